"""OfflineGenerator: real sheets, measured where the layout puts each feature."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pytest
from PIL import Image, ImageStat

from casting.adapters.generators.offline import OfflineGenerator
from casting.adapters.generators.offline_layout import FIGURE_CX, HEIGHT, WIDTH, sample_points
from casting.domain.ports import GeneratedImage, GenerationKind, GenerationSpec
from casting.domain.values import AgeRange, Gender, ImageBytes, Style, TraitChanges, Traits

Box = tuple[int, int, int, int]
BASE = Traits(
    gender=Gender.FEMALE,
    age_range=AgeRange.YOUNG_ADULT,
    face_traits="green eyes, fair skin",
    hair_traits="long black hair",
    outfit="red dress",
    mood="calm",
    custom_prompt="",
)
# Where the full figure's torso is for an adult (chest to waist, left of the centre line
# where collars, buttons and ties sit).
TORSO: Box = (FIGURE_CX - 60, 480, FIGURE_CX - 25, 560)


def style(style_id: str) -> Style:
    return Style(style_id, style_id, "")


def sheet_spec(traits: Traits = BASE, image_style: str = "webtoon", story: str = "romance") -> GenerationSpec:
    return GenerationSpec(GenerationKind.SHEET, traits, style(story), style(image_style))


def variant_spec(base: Traits, changes: TraitChanges, image_style: str = "webtoon") -> GenerationSpec:
    return GenerationSpec(
        GenerationKind.VARIANT,
        base.apply(changes),
        style("romance"),
        style(image_style),
        base_traits=base,
        changes=changes,
    )


async def generate(spec: GenerationSpec, references: Sequence[bytes] = ()) -> GeneratedImage:
    refs = [ImageBytes(data, "image/png") for data in references]
    return await OfflineGenerator().generate(spec, refs)


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.convert("RGB")


def mean(image: Image.Image, box: Box) -> tuple[float, float, float]:
    r, g, b = ImageStat.Stat(image.crop(box)).mean
    return r, g, b


def around(point: tuple[float, float], half: int = 2) -> Box:
    x, y = round(point[0]), round(point[1])
    return (x - half, y - half, x + half + 1, y + half + 1)


def distance(a: Sequence[float], b: Sequence[float]) -> float:
    return float(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5)


def figure_top(image: Image.Image) -> int:
    """The first row where the figure's column leaves the backdrop."""
    for y in range(HEIGHT):
        row = [image.getpixel((x, y)) for x in range(FIGURE_CX - 40, FIGURE_CX + 41, 8)]
        backdrop = image.getpixel((20, y))
        if any(distance(p, backdrop) > 40 for p in row):  # type: ignore[arg-type]
            return y
    return HEIGHT


async def test_a_sheet_is_a_9_by_16_png_with_offline_provenance() -> None:
    result = await generate(sheet_spec())
    assert result.mime_type == "image/png"
    assert result.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert decode(result.data).size == (WIDTH, HEIGHT) == (768, 1344)
    assert (result.generator, result.model, result.prompt_version) == (
        "offline",
        "procedural-v1",
        "offline-1",
    )
    assert len(result.prompt_sha256) == 64


async def test_same_spec_same_bytes_and_hash_other_spec_other_hash() -> None:
    first, second = await generate(sheet_spec()), await generate(sheet_spec())
    assert first.data == second.data
    assert first.prompt_sha256 == second.prompt_sha256
    other = await generate(sheet_spec(Traits(**{**_fields(BASE), "mood": "happy"})))
    assert other.prompt_sha256 != first.prompt_sha256


async def test_hair_colour_follows_the_hair_traits() -> None:
    red = decode((await generate(sheet_spec(_with(hair_traits="long red hair")))).data)
    black = decode((await generate(sheet_spec(_with(hair_traits="long black hair")))).data)
    hair = around(sample_points().hair)
    (rr, rg, rb), (br, bg, bb) = mean(red, hair), mean(black, hair)
    assert rr - (rg + rb) / 2 > 80 > br - (bg + bb) / 2
    # the full figure's crown changes too, not only the headshots
    crown = (FIGURE_CX - 15, 195, FIGURE_CX + 15, 215)
    assert mean(red, crown)[0] > mean(black, crown)[0] + 60


async def test_outfit_colour_and_shape_follow_the_outfit() -> None:
    red = decode((await generate(sheet_spec(_with(outfit="red dress")))).data)
    blue = decode((await generate(sheet_spec(_with(outfit="blue hoodie")))).data)
    assert mean(red, TORSO)[0] > mean(blue, TORSO)[0] + 60
    assert mean(blue, TORSO)[2] > mean(red, TORSO)[2] + 60
    # a dress covers the thighs; a hoodie over trousers shows the trousers' colour there
    thighs = (FIGURE_CX - 70, 700, FIGURE_CX - 40, 740)
    assert distance(mean(red, thighs), mean(blue, thighs)) > 60


async def test_mood_changes_the_face_and_the_palette_warmth() -> None:
    happy = decode((await generate(sheet_spec(_with(mood="happy and cheerful")))).data)
    sad = decode((await generate(sheet_spec(_with(mood="sad, melancholy")))).data)
    face = (FIGURE_CX - 40, 240, FIGURE_CX + 40, 330)
    assert distance(mean(happy, face), mean(sad, face)) > 1
    corner = (0, 0, 60, 60)
    (hr, _, hb), (sr, _, sb) = mean(happy, corner), mean(sad, corner)
    assert hr - hb > sr - sb + 20  # warm against cool


async def test_age_changes_the_height() -> None:
    adult = decode((await generate(sheet_spec(_with(age_range=AgeRange.YOUNG_ADULT)))).data)
    child = decode((await generate(sheet_spec(_with(age_range=AgeRange.CHILD)))).data)
    elderly = decode((await generate(sheet_spec(_with(age_range=AgeRange.ELDERLY)))).data)
    assert figure_top(child) > figure_top(adult) + 150
    assert figure_top(adult) < figure_top(elderly)
    hair = around(sample_points().hair)
    assert distance(mean(elderly, hair), mean(adult, hair)) > 60  # greying


async def test_every_image_style_draws_a_sheet() -> None:
    sheets = {
        image_style: (await generate(sheet_spec(image_style=image_style))).data
        for image_style in ("webtoon", "anime", "semi-realistic", "watercolor", "chibi")
    }
    assert len(set(sheets.values())) == 5
    assert all(decode(data).size == (WIDTH, HEIGHT) for data in sheets.values())


async def test_a_variant_changing_the_outfit_keeps_the_parent_s_face_and_hair() -> None:
    parent = (await generate(sheet_spec())).data
    changes = TraitChanges(outfit="green hoodie")
    child = decode((await generate(variant_spec(BASE, changes), [parent])).data)
    before, points = decode(parent), sample_points()
    for point in (points.skin, points.eyes, points.hair):
        assert distance(mean(before, around(point)), mean(child, around(point))) < 3
    assert distance(mean(before, TORSO), mean(child, TORSO)) > 60


async def test_a_variant_keeps_the_identity_across_image_styles_and_generations() -> None:
    parent = (await generate(sheet_spec(image_style="watercolor"))).data
    child = (await generate(variant_spec(BASE, TraitChanges(mood="angry"), "chibi"), [parent])).data
    grandchild = (await generate(variant_spec(BASE, TraitChanges(outfit="black suit")), [child])).data
    points = sample_points()
    for point in (points.skin, points.eyes, points.hair):
        # a 3x3 patch: the watercolour wash softens the rim of a larger one
        colours = [mean(decode(data), around(point, 1)) for data in (parent, child, grandchild)]
        assert distance(colours[0], colours[2]) < 6


async def test_a_variant_changing_the_hair_changes_only_the_hair() -> None:
    parent = (await generate(sheet_spec())).data
    child = decode(
        (await generate(variant_spec(BASE, TraitChanges(hair_traits="short blonde hair")), [parent])).data
    )
    before, points = decode(parent), sample_points()
    assert distance(mean(before, around(points.hair)), mean(child, around(points.hair))) > 80
    assert distance(mean(before, around(points.skin)), mean(child, around(points.skin))) < 3
    assert distance(mean(before, TORSO), mean(child, TORSO)) < 3


async def test_a_variant_of_an_imported_picture_takes_its_skin_from_the_picture() -> None:
    blue_skinned = io.BytesIO()
    Image.new("RGB", (900, 1600), (60, 110, 220)).save(blue_skinned, format="PNG")
    traits = _with(face_traits="fair skin")
    child = decode(
        (await generate(variant_spec(traits, TraitChanges(mood="happy")), [blue_skinned.getvalue()])).data
    )
    r, g, b = mean(child, around(sample_points().skin))
    assert b > r + 100  # blue, as the picture, not the fair skin the traits describe


@pytest.mark.parametrize("words", ["loves cats and rainy days", "carries grandmother's locket"])
async def test_free_text_adds_details_deterministically(words: str) -> None:
    plain = (await generate(sheet_spec())).data
    detailed = [(await generate(sheet_spec(_with(custom_prompt=words)))).data for _ in range(2)]
    assert detailed[0] == detailed[1] != plain


def _fields(traits: Traits) -> dict[str, object]:
    return {name: getattr(traits, name) for name in Traits.__slots__}


def _with(**changes: object) -> Traits:
    return Traits(**{**_fields(BASE), **changes})  # type: ignore[arg-type]
