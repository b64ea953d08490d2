"""The Gemini image models this service draws with, and what each allows.

From Google's image generation guide (https://ai.google.dev/gemini-api/docs/image-generation)
and pricing page: Gemini 2.5 Flash Image draws 1K only (1024 px on the long side at most, 1290
output tokens an image) and works best with up to 3 input images; Gemini 3 Pro Image Preview
draws 1K, 2K or 4K (1120 output tokens at 1K and 2K, 2000 at 4K) from up to 14 reference
images. A model not listed here is refused at start-up: its sizes, references and answers
are unknown, and so would be its bills.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_SIZE = "1K"


@dataclass(frozen=True, slots=True)
class ImageModel:
    name: str
    max_references: int
    # Output image tokens of one drawing, by size: the sizes it draws, and what each is billed.
    image_tokens: Mapping[str, int]

    @property
    def sizes(self) -> tuple[str, ...]:
        return tuple(self.image_tokens)

    def size_problem(self, size: str) -> str | None:
        """Why this model cannot draw `size` ("" is its default), or None."""
        if not size or size in self.image_tokens:
            return None
        return f"{self.name} draws {', '.join(self.sizes)} only"


IMAGE_MODELS: dict[str, ImageModel] = {
    model.name: model
    for model in (
        ImageModel("gemini-2.5-flash-image", max_references=3, image_tokens={"1K": 1290}),
        ImageModel(
            "gemini-3-pro-image-preview",
            max_references=14,
            image_tokens={"1K": 1120, "2K": 1120, "4K": 2000},
        ),
    )
}


def image_model(name: str) -> ImageModel:
    """The supported model of that name; ValueError naming the supported ones otherwise."""
    try:
        return IMAGE_MODELS[name]
    except KeyError:
        supported = ", ".join(IMAGE_MODELS)
        raise ValueError(f"unsupported image model {name!r}; supported: {supported}") from None
