"""PillowImageCodec against real images made with Pillow (and a few hand-made hostile ones)."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator

import pytest
from PIL import ExifTags, Image, PngImagePlugin

from casting.adapters.decoding import DecodingPool
from casting.adapters.images import PillowImageCodec
from casting.domain.errors import InvalidImage
from casting.domain.values import ImageFacts


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def picture(mode: str = "RGB", size: tuple[int, int] = (48, 32)) -> Image.Image:
    """A non-flat picture, so that lossy encoders have something to keep."""
    image = Image.linear_gradient("L").resize(size).convert(mode)
    image.paste((200, 40, 40) if mode == "RGB" else (200, 40, 40, 255), (0, 0, size[0] // 2, 8))
    return image


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` RGB pixels (a decompression bomb's shape)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", pixels)
        + png_chunk(b"IEND", b"")
    )


@pytest.fixture
def codec() -> Iterator[PillowImageCodec]:
    pool = DecodingPool(budget_bytes=256 * 1024 * 1024, threads=1)
    yield PillowImageCodec(pool)
    pool.close()


@pytest.mark.parametrize(
    ("fmt", "mode", "mime_type"),
    [("PNG", "RGBA", "image/png"), ("JPEG", "RGB", "image/jpeg"), ("WEBP", "RGB", "image/webp")],
)
async def test_accepts_png_jpeg_webp_and_reports_true_facts(
    codec: PillowImageCodec, fmt: str, mode: str, mime_type: str
) -> None:
    assert await codec.inspect(encode(picture(mode), fmt)) == ImageFacts(mime_type, 48, 32)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"hello, I am a text file and not a picture at all", "not a PNG, JPEG or WebP"),
        (encode(picture(), "GIF"), "not a PNG, JPEG or WebP"),
        (encode(picture(), "BMP"), "not a PNG, JPEG or WebP"),
        (encode(picture(), "TIFF"), "not a PNG, JPEG or WebP"),
        (encode(picture(), "PNG")[:-40], "truncated or corrupt"),
        (encode(picture(size=(400, 300)), "JPEG")[:900], "truncated or corrupt"),
        (png_claiming(100_000, 100_000), "too large"),
        (png_claiming(13_000, 10), "larger than 12000 pixels on a side"),
        (png_claiming(8_000, 6_000), "8000x6000 pixels; this server decodes at most 33554432"),
    ],
    ids=[
        "zero-bytes",
        "text",
        "gif",
        "bmp",
        "tiff",
        "truncated-png",
        "truncated-jpeg",
        "bomb-100000x100000",
        "too-wide",
        "too-many-pixels",
    ],
)
async def test_refuses_what_is_not_a_sound_accepted_image(
    codec: PillowImageCodec, data: bytes, message: str
) -> None:
    with pytest.raises(InvalidImage, match=message):
        await codec.inspect(data)
    with pytest.raises(InvalidImage, match=message):
        await codec.sanitize(data)


def flipped_inside_idat(png: bytes) -> bytes:
    """The PNG with one bit flipped in the middle of its first IDAT chunk's data."""
    start = png.index(b"IDAT") + 4
    (length,) = struct.unpack(">I", png[start - 8 : start - 4])
    at = start + length // 2
    return png[:at] + bytes([png[at] ^ 0x01]) + png[at + 1 :]


@pytest.mark.parametrize(
    "data",
    [
        encode(picture(size=(90, 160)), "PNG")[:-40],
        encode(picture(size=(90, 160)), "PNG")[:-12],  # everything but IEND
        flipped_inside_idat(encode(picture(size=(90, 160)), "PNG")),
        encode(picture(size=(360, 640)), "JPEG")[:-200],
        encode(picture(size=(360, 640)), "JPEG")[:-2],  # everything but the end marker
    ],
    ids=["truncated-png", "png-without-iend", "png-bit-flipped-in-idat", "truncated-jpeg", "jpeg-no-eoi"],
)
async def test_inspect_refuses_a_damaged_model_image_without_decoding_it_whole(
    codec: PillowImageCodec, data: bytes
) -> None:
    with pytest.raises(InvalidImage, match="truncated or corrupt"):
        await codec.inspect(data)


async def test_limits_are_the_constructor_s_and_the_pool_s(codec: PillowImageCodec) -> None:
    small = PillowImageCodec(DecodingPool(budget_bytes=8_000, threads=1), max_side=40)
    assert small.max_pixels == 1_000
    with pytest.raises(InvalidImage, match="larger than 40 pixels"):
        await small.inspect(encode(picture(), "PNG"))
    assert (await codec.inspect(encode(picture(), "PNG"))).width == 48


async def test_format_is_judged_by_content_whatever_the_name_or_declared_type(
    codec: PillowImageCodec,
) -> None:
    # The codec takes no declared type at all: JPEG bytes are JPEG, whatever a caller said.
    data, facts = await codec.sanitize(encode(picture(), "JPEG"))
    assert facts.mime_type == "image/jpeg"
    assert data[:3] == b"\xff\xd8\xff"


def jpeg_with_gps_and_orientation() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCam"
    exif[ExifTags.Base.Orientation] = 6  # stored sideways: must be turned upright
    exif[ExifTags.Base.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (37.0, 33.0, 58.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (126.0, 58.0, 41.0),
    }
    return encode(picture(size=(60, 20)), "JPEG", exif=exif, comment=b"shot at home")


async def test_sanitize_strips_exif_gps_and_comments_and_applies_orientation(
    codec: PillowImageCodec,
) -> None:
    original = jpeg_with_gps_and_orientation()
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the fixture really carries GPS

    data, facts = await codec.sanitize(original)

    assert facts == ImageFacts("image/jpeg", 20, 60)
    assert b"SpyCam" not in data and b"shot at home" not in data
    with Image.open(io.BytesIO(data)) as after:
        assert after.size == (20, 60)
        assert after.mode == "RGB"
        assert not after.getexif()
        assert "exif" not in after.info and "comment" not in after.info
        assert "icc_profile" not in after.info


async def test_sanitize_strips_png_text_and_icc_but_keeps_alpha(codec: PillowImageCodec) -> None:
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "someone@example.com")
    original = encode(picture("RGBA"), "PNG", pnginfo=text, icc_profile=b"not-really-an-icc")

    data, facts = await codec.sanitize(original)

    assert facts == ImageFacts("image/png", 48, 32)
    assert b"someone@example.com" not in data and b"not-really-an-icc" not in data
    with Image.open(io.BytesIO(data)) as after:
        assert after.mode == "RGBA"
        assert not after.info.get("Author")
        assert after.getpixel((0, 0)) == (200, 40, 40, 255)


async def test_sanitize_keeps_webp_as_webp(codec: PillowImageCodec) -> None:
    data, facts = await codec.sanitize(encode(picture(), "WEBP", lossless=True))
    assert facts == ImageFacts("image/webp", 48, 32)
    assert await codec.inspect(data) == facts
