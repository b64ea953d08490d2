"""The thumbnailer: Pillow scales stored sheets down to small WebP files for grids."""

from __future__ import annotations

import io
from functools import partial
from typing import Final

from PIL import Image

from casting.adapters.decoding import DecodingPool
from casting.adapters.images import BYTES_PER_PIXEL
from casting.domain.values import ImageFacts

# Stored images were checked on the way in (PNG, JPEG or WebP), so only those decoders are needed.
_OPENERS: Final = ("PNG", "JPEG", "WEBP")
# Full-size copies a thumbnail holds at its peak: the decoded image, its RGBA copy, the white page.
_SHRINK_COPIES: Final = 3


class PillowThumbnailer:
    """Thumbnailer over Pillow: Lanczos downscaling, WebP at a quality that keeps line art
    crisp. Pillow's encoders are deterministic, so the same image makes the same bytes. Decodes
    run in `pool`, admitted by the memory they will hold (a JPEG is decoded at the smallest
    scale still wider than the thumbnail)."""

    def __init__(self, pool: DecodingPool, *, quality: int = 82) -> None:
        self._pool = pool
        self._quality = quality

    async def shrink(self, data: bytes, width: int) -> tuple[bytes, ImageFacts]:
        with _opened(data, width) as image:
            cost = image.width * image.height * BYTES_PER_PIXEL * _SHRINK_COPIES
        return await self._pool.run(cost, partial(self._shrink, data, width))

    def _shrink(self, data: bytes, width: int) -> tuple[bytes, ImageFacts]:
        with _opened(data, width) as image:
            pixels = _on_white(image)
        if pixels.width > width:
            height = max(1, round(pixels.height * width / pixels.width))
            pixels = pixels.resize((width, height), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        pixels.save(out, format="WEBP", quality=self._quality, method=4)
        return out.getvalue(), ImageFacts("image/webp", pixels.width, pixels.height)


def _opened(data: bytes, width: int) -> Image.Image:
    """The image with its header read, a JPEG set to decode at a reduced scale no narrower than
    `width`; no pixel decoded yet."""
    image = Image.open(io.BytesIO(data), formats=_OPENERS)
    image.draft("RGB", (width, max(1, round(image.height * width / image.width))))
    return image


def _on_white(image: Image.Image) -> Image.Image:
    """The image as RGB, transparent parts white (the console's page), not black."""
    if not image.has_transparency_data:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    flat = Image.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat
