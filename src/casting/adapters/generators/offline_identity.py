"""Reads a parent's identity back from its sheet: the colours at the neutral headshot's
skin, eyes, hair and shoulder. Works on any picture (an imported one has no such layout, so
what lands under the sample points stands in for its identity)."""

from __future__ import annotations

import io

from PIL import Image, ImageStat

from casting.adapters.generators.offline_layout import HEIGHT, WIDTH, Point, sample_points
from casting.adapters.generators.offline_look import RGB, Identity, snap
from casting.domain.errors import UpstreamUnavailable
from casting.domain.values import ImageBytes

# Half sizes of the patches read: medians over them ignore freckles, grain and stray lines.
_PATCH = 3
# Hair this close to the skin is no hair: the parent was bald (or the picture shows none).
_SAME_AS_SKIN = 24


def read_identity(reference: ImageBytes) -> Identity:
    try:
        with Image.open(io.BytesIO(reference.data)) as opened:
            opened.draft("RGB", (WIDTH, HEIGHT))  # JPEGs decode straight at about sheet size
            sheet = opened.convert("RGB")
    except Exception as exc:  # a stored reference that no longer decodes is a broken upstream
        raise UpstreamUnavailable("REFERENCE_UNREADABLE", "the reference image could not be read") from exc
    if sheet.size != (WIDTH, HEIGHT):
        sheet = sheet.resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR, reducing_gap=2.0)
    points = sample_points()
    skin = _colour_at(sheet, points.skin)
    hair = _colour_at(sheet, points.hair)
    bald = sum(abs(a - b) for a, b in zip(hair, skin, strict=True)) < _SAME_AS_SKIN
    return Identity(
        skin=skin,
        eyes=_colour_at(sheet, points.eyes),
        hair=None if bald else hair,
        outfit=_colour_at(sheet, points.outfit),
    )


def _colour_at(sheet: Image.Image, point: Point) -> RGB:
    x, y = round(point[0]), round(point[1])
    patch = sheet.crop((x - _PATCH, y - _PATCH, x + _PATCH + 1, y + _PATCH + 1))
    r, g, b = ImageStat.Stat(patch).median
    return snap((r, g, b))
