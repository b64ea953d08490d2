"""The catalogue of styles a sheet can be drawn in. Ids are part of the contract."""

from __future__ import annotations

from casting.domain.errors import FieldViolation
from casting.domain.values import Style

STORY_STYLES: tuple[Style, ...] = (
    Style("slice-of-life", "Slice of life", "Everyday settings, soft natural light, relaxed poses."),
    Style("romance", "Romance", "Warm palette, expressive eyes, flattering soft lighting."),
    Style("action", "Action", "Dynamic, athletic build, practical clothing, strong contrast."),
    Style("fantasy", "Fantasy", "Otherworldly details, ornate costume elements, rich colour."),
    Style("thriller", "Thriller", "Muted, cool palette, tense expressions, hard shadows."),
    Style("comedy", "Comedy", "Bright palette, exaggerated expressions, playful proportions."),
    Style("horror", "Horror", "Desaturated palette, unsettling details, deep shadows."),
)

IMAGE_STYLES: tuple[Style, ...] = (
    Style("webtoon", "Webtoon", "Clean line art with cel shading, as in Korean vertical comics."),
    Style("anime", "Anime", "Japanese animation look: large eyes, flat colour, crisp outlines."),
    Style("semi-realistic", "Semi-realistic", "Painterly rendering with realistic proportions."),
    Style("watercolor", "Watercolour", "Soft washes, visible paper texture, gentle edges."),
    Style("chibi", "Chibi", "Super-deformed: big head, small body, cute proportions."),
)


_STORY_BY_ID = {s.id: s for s in STORY_STYLES}
_IMAGE_BY_ID = {s.id: s for s in IMAGE_STYLES}


def pick(story_id: str, image_id: str) -> tuple[Style, Style]:
    """The story and image style of ids already checked by style_violations."""
    return _STORY_BY_ID[story_id], _IMAGE_BY_ID[image_id]


def style_violations(
    story_id: str | None,
    image_id: str | None,
    *,
    story_field: str = "story_style",
    image_field: str = "image_style",
) -> list[FieldViolation]:
    """Violations for unknown (or missing) style ids, each naming its request field; None is
    not checked (a field the request leaves alone)."""
    found = []
    if story_id is not None and story_id not in _STORY_BY_ID:
        found.append(FieldViolation(story_field, _unknown(story_id, STORY_STYLES)))
    if image_id is not None and image_id not in _IMAGE_BY_ID:
        found.append(FieldViolation(image_field, _unknown(image_id, IMAGE_STYLES)))
    return found


def _unknown(style_id: str, catalogue: tuple[Style, ...]) -> str:
    known = ", ".join(s.id for s in catalogue)
    return f"{'is required' if not style_id else 'unknown style ' + repr(style_id[:64])}; one of {known}"
