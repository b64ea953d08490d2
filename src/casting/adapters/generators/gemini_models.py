"""The Gemini image models this service draws with, and what each allows.

From Google's image generation guide (https://ai.google.dev/gemini-api/docs/image-generation)
and pricing page: Gemini 2.5 Flash Image draws 1K only (1024 px on the long side at most, 1290
output tokens an image) and works best with up to 3 input images; Gemini 3 Pro Image Preview
draws 1K, 2K or 4K (1120 output tokens at 1K and 2K, 2000 at 4K) from up to 14 reference
images. A model not listed here is refused at start-up: its sizes, references and answers
are unknown, and so would be its bills.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from casting.adapters.generators.prices import PriceTable, Tokens
from casting.domain.ports import GenerationSpec

DEFAULT_SIZE = "1K"
# What a budget reserves for a drawing's input: the prompt (a few hundred tokens) and two
# 768x1344 references of 516 tokens each. The output, the drawing, is most of any bill.
ESTIMATED_INPUT_TOKENS = 1500


@dataclass(frozen=True, slots=True)
class ImageModel:
    name: str
    max_references: int
    # Output image tokens of one drawing, by size: the sizes it draws, and what each is billed.
    image_tokens: Mapping[str, int]

    @property
    def sizes(self) -> tuple[str, ...]:
        return tuple(self.image_tokens)

    def estimate_micros(self, size: str, prices: PriceTable) -> int:
        """What one drawing at `size` is expected to cost, in USD millionths, before it is made."""
        image = self.image_tokens.get(size or DEFAULT_SIZE, max(self.image_tokens.values()))
        return prices.cost_micros(self.name, Tokens(input=ESTIMATED_INPUT_TOKENS, output_image=image))

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


def drawing_estimate(model: str | None, prices: PriceTable) -> Callable[[GenerationSpec], int]:
    """A painter's estimate of each drawing: by `model`'s sizes and prices, or nothing (None:
    the offline generator, which costs nothing)."""
    if model is None:
        return lambda spec: 0
    image = image_model(model)
    return lambda spec: image.estimate_micros(spec.image_size, prices)


def image_model(name: str) -> ImageModel:
    """The supported model of that name; ValueError naming the supported ones otherwise."""
    try:
        return IMAGE_MODELS[name]
    except KeyError:
        supported = ", ".join(IMAGE_MODELS)
        raise ValueError(f"unsupported image model {name!r}; supported: {supported}") from None
