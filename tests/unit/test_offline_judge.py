"""OfflineJudge: real measurements on the offline generator's real sheets."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from casting.adapters.generators.offline import OfflineGenerator
from casting.adapters.judges.offline import OfflineJudge
from casting.domain.ports import GenerationKind, GenerationSpec, Judgement
from casting.domain.usecases.painting import Verifying
from casting.domain.values import AgeRange, Gender, ImageBytes, Style, TraitChanges, Traits

MINA = Traits(Gender.FEMALE, AgeRange.TEEN, face_traits="round face", hair_traits="short black bob")
OTHERS = {
    "jun": Traits(Gender.MALE, AgeRange.YOUNG_ADULT, hair_traits="messy blond hair"),
    "sora": Traits(Gender.FEMALE, AgeRange.TEEN, face_traits="freckles", hair_traits="long black hair"),
    "grandpa": Traits(Gender.MALE, AgeRange.ELDERLY, hair_traits="bald"),
    "kid": Traits(Gender.NONBINARY, AgeRange.CHILD, hair_traits="red pigtails"),
}
STORY, IMAGE = Style("romance", "Romance", ""), Style("webtoon", "Webtoon", "")
THRESHOLD = Verifying().min_identity_score
generator, judge = OfflineGenerator(), OfflineJudge()


def first_sheet(traits: Traits) -> ImageBytes:
    spec = GenerationSpec(GenerationKind.SHEET, traits, STORY, IMAGE)
    return ImageBytes(generator.draw(spec, []), "image/png")


def new_look(base: ImageBytes, traits: Traits, changes: TraitChanges) -> tuple[GenerationSpec, ImageBytes]:
    spec = GenerationSpec(
        GenerationKind.VARIANT, traits.apply(changes), STORY, IMAGE, base_traits=traits, changes=changes
    )
    return spec, ImageBytes(generator.draw(spec, [base]), "image/png")


def measured(candidate: ImageBytes, references: list[ImageBytes]) -> Judgement:
    return judge.measure(candidate, references)


@pytest.fixture(scope="module")
def mina() -> ImageBytes:
    return first_sheet(MINA)


@pytest.mark.parametrize(
    "changes",
    [
        TraitChanges(outfit="red winter coat"),
        TraitChanges(outfit="school uniform", mood="angry"),
        TraitChanges(outfit="grey hoodie", mood="sad"),
    ],
    ids=["coat", "uniform-angry", "hoodie-sad"],
)
def test_the_same_character_in_another_outfit_scores_high(mina: ImageBytes, changes: TraitChanges) -> None:
    _, look = new_look(mina, MINA, changes)
    assert look.data != mina.data  # really another drawing
    score = measured(look, [mina]).identity_score
    assert score is not None and score >= 0.9 > THRESHOLD


@pytest.mark.parametrize("other", sorted(OTHERS))
def test_another_character_scores_low(mina: ImageBytes, other: str) -> None:
    score = measured(first_sheet(OTHERS[other]), [mina]).identity_score
    assert score is not None and score < THRESHOLD


def test_scores_follow_the_picture_not_a_constant(mina: ImageBytes) -> None:
    scores = {name: measured(first_sheet(traits), [mina]).identity_score for name, traits in OTHERS.items()}
    assert measured(mina, [mina]).identity_score == 1.0
    assert len(set(scores.values())) == len(OTHERS)  # each stranger is a different distance away


def test_a_drawing_is_judged_against_every_reference_and_keeps_the_worst(mina: ImageBytes) -> None:
    stranger = first_sheet(OTHERS["jun"])
    _, look = new_look(mina, MINA, TraitChanges(outfit="red winter coat"))
    alone = measured(look, [mina]).identity_score
    with_root = measured(look, [mina, stranger]).identity_score
    assert alone is not None and with_root is not None and with_root < THRESHOLD < alone


def test_a_first_sheet_has_no_identity_score_and_keeps_every_measured_rule(mina: ImageBytes) -> None:
    judgement = measured(mina, [])
    assert judgement.identity_score is None and judgement.judge == "offline"
    assert {c.rule: c.passed for c in judgement.checks} == {
        "aspect_9_16": True,
        "clean_background": True,
        "full_body": True,
        "expression_insets": True,
    }


def _edited(sheet: ImageBytes, edit: str) -> ImageBytes:
    picture = Image.open(io.BytesIO(sheet.data)).convert("RGB")
    pen = ImageDraw.Draw(picture)
    if edit == "clutter":
        for x in range(0, picture.width, 24):  # a striped wall behind the figure
            pen.rectangle((x, 0, x + 11, 100), fill=(40, 40, 60))
    elif edit == "cropped":
        picture = picture.crop((0, 300, picture.width, picture.height)).resize(picture.size)
    elif edit == "no insets":
        corner = picture.getpixel((picture.width - 3, 5))
        pen.rectangle((540, 0, picture.width, picture.height), fill=corner)
    elif edit == "square":
        picture = picture.resize((picture.width, picture.width))
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return ImageBytes(out.getvalue(), "image/png")


@pytest.mark.parametrize(
    ("edit", "rule"),
    [
        ("clutter", "clean_background"),
        ("cropped", "full_body"),
        ("no insets", "expression_insets"),
        ("square", "aspect_9_16"),
    ],
)
def test_a_sheet_that_breaks_a_rule_fails_that_rule(mina: ImageBytes, edit: str, rule: str) -> None:
    checks = {c.rule: c for c in measured(_edited(mina, edit), []).checks}
    assert not checks[rule].passed, checks[rule].detail
    assert checks[rule].detail


async def test_judging_runs_off_the_event_loop_with_the_same_answer(mina: ImageBytes) -> None:
    spec, look = new_look(mina, MINA, TraitChanges(outfit="red winter coat"))
    assert await judge.judge(spec, look, [mina]) == measured(look, [mina])
