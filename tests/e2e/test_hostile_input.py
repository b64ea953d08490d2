"""Hostile input over the wire: oversized and malformed uploads, image bombs, metadata that must
not be kept, control characters, over-long strings, unknown enums, forged tokens and bytes that
are not a request at all. Each is refused with INVALID_ARGUMENT (or RESOURCE_EXHAUSTED, gRPC's own
answer to a message over the receive limit) naming the field, never INTERNAL."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import struct
import threading
import uuid
import zlib

import grpc
import pytest
from PIL import ExifTags, PngImagePlugin
from PIL import Image as PILImage

from casting.v1 import casting_pb2 as pb
from tests.e2e.rich_errors import details_of
from tests.e2e.test_flow import TRAITS, P, read_image, save

INVALID = grpc.StatusCode.INVALID_ARGUMENT
# Uploads are judged by the codec, whatever the database: one backend is enough for them.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def refused(call) -> tuple[grpc.StatusCode, list[str]]:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call
    if error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return error.value.code(), []  # gRPC's own refusal, before any handler: no details
    found = details_of(error.value)
    assert found.domain == "casting.webtoon"
    return found.code, found.fields


def picture(fmt: str, size: tuple[int, int] = (90, 160), **save: object) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", size, "crimson").save(out, format=fmt, **save)
    return out.getvalue()


def upload(content: bytes, mime_type: str = "") -> pb.ImportActorRequest:
    return pb.ImportActorRequest(parent=P, display_name="Upload", image_content=content, mime_type=mime_type)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_of(width: int, height: int, rows: int | None = None) -> bytes:
    """A grey PNG whose header claims width x height, with `rows` rows of zero pixels (all of
    them when None): a bomb when the header is large and the zeros compress to nothing."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    packer = zlib.compressobj(9)
    row = b"\0" * (width + 1)
    body = b"".join(packer.compress(row) for _ in range(height if rows is None else rows)) + packer.flush()
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


def with_sof_size(jpeg: bytes, width: int, height: int) -> bytes:
    """A JPEG whose frame header (SOF0) claims another size."""
    at = jpeg.index(b"\xff\xc0")
    return jpeg[: at + 5] + struct.pack(">HH", height, width) + jpeg[at + 9 :]


def corrupted(data: bytes) -> bytes:
    """The same bytes with the middle of the pixel data scrambled."""
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0x5A for b in data[middle : middle + 64]) + data[middle + 64 :]


@sqlite_only
@pytest.mark.parametrize(
    ("label", "content", "mime_type", "field"),
    [
        ("empty", b"", "", "image_content"),
        ("text", b"hello, I am not a picture", "", "image_content"),
        ("svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="16"/>', "", "image_content"),
        ("gif", picture("GIF"), "", "image_content"),
        ("bmp", picture("BMP"), "", "image_content"),
        ("tiff", picture("TIFF"), "", "image_content"),
        ("truncated png", picture("PNG", (300, 500))[:400], "", "image_content"),
        ("truncated jpeg", picture("JPEG", (300, 500))[:600], "", "image_content"),
        ("corrupt png", corrupted(png_of(300, 500)), "", "image_content"),
        ("png bomb", png_of(10_000, 10_000), "", "image_content"),
        ("absurdly wide png", png_of(60_000, 2), "", "image_content"),
        ("zero-width png", png_of(0, 16, rows=0), "", "image_content"),
        ("absurd jpeg header", with_sof_size(picture("JPEG"), 65_000, 65_000), "", "image_content"),
        ("mime type lies", picture("PNG"), "image/jpeg", "mime_type"),
        ("mime type unknown", picture("PNG"), "image/gif", "mime_type"),
        ("mime type huge", picture("PNG"), "image/" + "x" * 100_000, "mime_type"),
    ],
)
async def test_bad_uploads_are_invalid_arguments(
    stub, label: str, content: bytes, mime_type: str, field: str
) -> None:
    assert await refused(stub.ImportActor(upload(content, mime_type))) == (INVALID, [field]), label


@sqlite_only
async def test_uploads_are_bounded(stub, container) -> None:
    limit = container.settings().max_upload_bytes  # 2 MiB in the tests; the receive limit is 1 MiB more
    over_the_setting = upload(b"\xff\xd8" + b"\0" * limit)
    assert await refused(stub.ImportActor(over_the_setting)) == (INVALID, ["image_content"])
    over_the_wire_limit = upload(b"\0" * (limit + 2 * 1024 * 1024))
    assert (await refused(stub.ImportActor(over_the_wire_limit)))[0] == grpc.StatusCode.RESOURCE_EXHAUSTED
    await stub.ImportActor(upload(picture("WEBP")))  # and the server still serves


def gps_jpeg() -> bytes:
    image = PILImage.new("RGB", (90, 160), "navy")
    exif = image.getexif()
    exif[ExifTags.Base.Make] = "SpyCam"
    exif[ExifTags.Base.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (37.0, 33.0, 59.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (126.0, 58.0, 41.0),
    }
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, comment=b"shot at home")
    return out.getvalue()


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "home address: 12 Secret Lane")
    out = io.BytesIO()
    PILImage.new("RGBA", (90, 160), "orange").save(out, format="PNG", pnginfo=info)
    return out.getvalue()


@sqlite_only
async def test_imported_pictures_lose_their_metadata(stub) -> None:
    sent = gps_jpeg()
    assert PILImage.open(io.BytesIO(sent)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the test's premise
    for content, secrets in [
        (sent, [b"Exif", b"SpyCam", b"shot at home"]),
        (png_with_text(), [b"Secret Lane"]),
    ]:
        actor = await stub.ImportActor(upload(content))
        _, stored = await read_image(stub, actor.variants[0].reference_image.name)
        kept = PILImage.open(io.BytesIO(stored))
        assert not kept.getexif() and not kept.info.get("exif") and "Comment" not in kept.info
        assert [s for s in secrets if s in stored] == []


CONTROL = ["\x00", "\x1b[31m", "\x7f", "\x85", "bell\x07"]


@pytest.mark.parametrize("control", CONTROL)
async def test_control_characters_are_refused_in_text(stub, control: str) -> None:
    sheet = await stub.GenerateSheet(
        pb.GenerateSheetRequest(parent=P, story_style="romance", image_style="webtoon")
    )
    naming = pb.SaveActorRequest(parent=P, sheet=sheet.name, display_name=f"Mina{control}")
    assert await refused(stub.SaveActor(naming)) == (INVALID, ["display_name"])
    describing = pb.SaveActorRequest(
        parent=P, sheet=sheet.name, display_name="Mina", description=f"a{control}"
    )
    assert await refused(stub.SaveActor(describing)) == (INVALID, ["description"])
    traits = pb.Traits(mood=f"calm{control}")
    drawing = pb.GenerateSheetRequest(parent=P, story_style="romance", image_style="webtoon", traits=traits)
    assert await refused(stub.GenerateSheet(drawing)) == (INVALID, ["traits.mood"])
    listing = pb.ListActorsRequest(parent=P, filter=f'display_name="Mi{control}*"')
    assert await refused(stub.ListActors(listing)) == (INVALID, ["filter"])


# A right-to-left override that shows "Minaexe.png" as "Minagnp.exe", a zero-width space, a BOM.
INVISIBLE = ["\u202e", "\u2067", "\u200b", "\ufeff"]


@pytest.mark.parametrize("hidden", INVISIBLE, ids=lambda c: f"U+{ord(c):04X}")
async def test_bidi_and_zero_width_characters_are_refused_in_text(stub, hidden: str) -> None:
    sheet = await stub.GenerateSheet(
        pb.GenerateSheetRequest(parent=P, story_style="romance", image_style="webtoon")
    )
    naming = pb.SaveActorRequest(parent=P, sheet=sheet.name, display_name=f"Mina{hidden}exe.png")
    assert await refused(stub.SaveActor(naming)) == (INVALID, ["display_name"])
    describing = pb.SaveActorRequest(
        parent=P, sheet=sheet.name, display_name="Mina", description=f"a{hidden}b"
    )
    assert await refused(stub.SaveActor(describing)) == (INVALID, ["description"])
    traits = pb.Traits(outfit=f"coat{hidden}")
    drawing = pb.GenerateSheetRequest(parent=P, story_style="romance", image_style="webtoon", traits=traits)
    assert await refused(stub.GenerateSheet(drawing)) == (INVALID, ["traits.outfit"])


async def test_line_breaks_are_text_in_descriptions_and_traits(stub) -> None:
    actor = await save(stub)
    changes = pb.TraitChanges(outfit="coat\nscarf\tboots")
    look = await stub.BranchVariant(
        pb.BranchVariantRequest(base_variant=actor.default_variant, trait_changes=changes)
    )
    assert look.traits.outfit == "coat\nscarf\tboots"


def forged_token(**payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


LONG = "x" * 100_000
A_UUID = str(uuid.uuid4())


@pytest.mark.parametrize(
    ("method", "request_", "field"),
    [
        ("GetActor", pb.GetActorRequest(name=f"projects/{LONG}/actors/{A_UUID}"), "name"),
        ("GetActor", pb.GetActorRequest(name=f"{P}/actors/{A_UUID}\x00"), "name"),
        ("GetActor", pb.GetActorRequest(name=f"{P}/actors/{A_UUID}/"), "name"),
        ("GetActor", pb.GetActorRequest(name=f"projects/stüdio/actors/{A_UUID}"), "name"),
        ("GetActor", pb.GetActorRequest(name=f"{P}/actors/{A_UUID}", story=f"{P}/stories/{LONG}"), "story"),
        ("ReadImage", pb.ReadImageRequest(name=f"{P}/images/{A_UUID.upper()}x"), "name"),
        ("ListActors", pb.ListActorsRequest(parent=P, filter=f'display_name="{LONG}"'), "filter"),
        ("ListActors", pb.ListActorsRequest(parent=P, filter="approved=true AND " * 5_000), "filter"),
        ("ListActors", pb.ListActorsRequest(parent=P, page_token=LONG), "page_token"),
        ("ListActors", pb.ListActorsRequest(parent=P, page_token="[" * 400), "page_token"),
        (
            "ListActors",
            pb.ListActorsRequest(
                parent=P, page_token=forged_token(t="2020-01-01T00:00:00+00:00", i="1' OR 1=1")
            ),
            "page_token",
        ),
        (
            "ListActors",
            pb.ListActorsRequest(parent=P, page_token=forged_token(t=12, i=A_UUID, q=[])),
            "page_token",
        ),
        ("ListStoryCast", pb.ListStoryCastRequest(parent=f"{P}/stories/s", page_token=LONG), "page_token"),
        (
            "GenerateSheet",
            pb.GenerateSheetRequest(parent=P, story_style=LONG, image_style="webtoon"),
            "story_style",
        ),
        (
            "GenerateSheet",
            pb.GenerateSheetRequest(
                parent=P, story_style="romance", image_style="webtoon", traits=TRAITS, request_id=LONG
            ),
            "request_id",
        ),
        (
            "GenerateSheet",
            pb.GenerateSheetRequest(
                parent=P, story_style="romance", image_style="webtoon", traits=pb.Traits(age_range=-7)
            ),
            "traits.age_range",
        ),
        (
            "BranchVariant",
            pb.BranchVariantRequest(
                base_variant=f"{P}/actors/{A_UUID}/variants/{A_UUID}",
                trait_changes=pb.TraitChanges(gender=99),
            ),
            "trait_changes.gender",
        ),
        (
            "BranchVariant",
            pb.BranchVariantRequest(
                base_variant=f"{P}/actors/{A_UUID}/variants/{A_UUID}",
                display_name=LONG,
                trait_changes=pb.TraitChanges(mood="sad"),
            ),
            "display_name",
        ),
    ],
)
async def test_hostile_strings_names_and_enums_are_invalid(stub, method: str, request_, field: str) -> None:
    call = getattr(stub, method)(request_)
    answer = await refused(call.read() if method == "ReadImage" else call)
    assert answer == (INVALID, [field])


@sqlite_only
@pytest.mark.parametrize("method", ["GetActor", "ImportActor", "ReadImage"])
async def test_bytes_that_are_no_request_are_invalid(channel, method: str) -> None:
    path = f"/casting.v1.CastingService/{method}"
    for garbage in (b"\xff\xff\xff\xff", b"\x0a\x03\xff\xfe\xfd", b"\x08"):
        call = (channel.unary_stream(path) if method == "ReadImage" else channel.unary_unary(path))(garbage)
        code, _ = await refused(call.read() if method == "ReadImage" else call)
        assert code == INVALID


@sqlite_only
async def test_bombs_are_refused_and_reads_go_on_while_every_decode_waits(stub, container) -> None:
    actor = await save(stub)
    image = actor.variants[0].reference_image.name
    pool = container.decoding()
    hog = threading.Event()
    # Something holds the whole decoding budget (and one of its threads) until the test lets go.
    holding = asyncio.ensure_future(pool.run(pool.budget_bytes, hog.wait))

    # 40 megapixels in a few tens of KB: refused by its header, none of them waits to decode.
    bombs = [refused_saying(stub.ImportActor(upload(png_of(8_000, 5_000)))) for _ in range(8)]
    for code, fields, message in await asyncio.gather(*bombs):
        assert (code, fields) == (INVALID, ["image_content"])
        assert "the image has 8000x5000 pixels; this server decodes at most 33554432" in message
    ordinary = asyncio.ensure_future(stub.ImportActor(upload(picture("PNG"))))
    _, data = await read_image(stub, image)  # reads use no decoding thread, and no budget
    assert data
    assert not ordinary.done()  # it waits for the budget, as it should

    hog.set()
    await holding
    assert (await ordinary).variants[0].reference_image.width == 90


async def refused_saying(call) -> tuple[grpc.StatusCode, list[str], str]:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call
    return error.value.code(), details_of(error.value).fields, error.value.details() or ""
