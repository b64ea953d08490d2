"""ListStyles."""

from __future__ import annotations

from casting.domain.styles import IMAGE_STYLES, STORY_STYLES
from casting.domain.values import Style


class ListStyles:
    async def __call__(self) -> tuple[tuple[Style, ...], tuple[Style, ...]]:
        """The story styles and the image styles, in the order a picker shows them."""
        return STORY_STYLES, IMAGE_STYLES
