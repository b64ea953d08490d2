"""The thumbnailer: Pillow scales stored sheets down to small WebP files for grids."""

from __future__ import annotations

import io
from typing import Final

from PIL import Image

from casting.domain.values import ImageFacts

# Stored images were checked on the way in (PNG, JPEG or WebP, bounded size), so only those
# decoders are needed here.
_OPENERS: Final = ("PNG", "JPEG", "WEBP")


class PillowThumbnailer:
    """Thumbnailer over Pillow: Lanczos downscaling, WebP at a quality that keeps line art
    crisp. Pillow's encoders are deterministic, so the same image makes the same bytes."""

    def __init__(self, *, quality: int = 82) -> None:
        self._quality = quality

    def shrink(self, data: bytes, width: int) -> tuple[bytes, ImageFacts]:
        with Image.open(io.BytesIO(data), formats=_OPENERS) as image:
            pixels = _on_white(image)
        if pixels.width > width:
            height = max(1, round(pixels.height * width / pixels.width))
            pixels = pixels.resize((width, height), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        pixels.save(out, format="WEBP", quality=self._quality, method=4)
        return out.getvalue(), ImageFacts("image/webp", pixels.width, pixels.height)


def _on_white(image: Image.Image) -> Image.Image:
    """The image as RGB, transparent parts white (the console's page), not black."""
    if not image.has_transparency_data:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    flat = Image.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat
