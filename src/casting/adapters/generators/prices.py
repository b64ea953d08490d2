"""What a model call costs: a price per million tokens for each model, by kind of token.

A price in USD per million tokens is also micro-USD per token, so a cost in USD millionths is
the token counts times the prices, with no other factor.

The defaults are Google's published paid-tier prices (standard, not batch) of the Gemini API,
https://ai.google.dev/gemini-api/docs/pricing, read for each model below; Vertex AI lists the
same rates for these models. Operators billed otherwise override them, or price another model,
with CASTING_MODEL_PRICES (settings.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict


class ModelPrice(BaseModel):
    """USD per million tokens: input (text and images), output text (thinking included) and
    output images. A model that draws no images leaves `image_output` at `output`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input: float
    output: float
    image_output: float | None = None


DEFAULT_PRICES: dict[str, ModelPrice] = {
    # Pricing page, "Gemini 2.5 Flash Image": input $0.30 (text/image); output $0.039 per image,
    # "priced at $30 per 1,000,000 tokens", an image up to 1024x1024 px being 1290 tokens. Its
    # text output (a line or two: the model is asked for an image) is priced at Gemini 2.5
    # Flash's $2.50, an assumption of ours: the page prices this model's image output only.
    "gemini-2.5-flash-image": ModelPrice(input=0.30, output=2.50, image_output=30.0),
    # Pricing page, "Gemini 3 Pro Image Preview": input $2.00 (text/image); output text and
    # thinking $12.00; output images $120 per 1,000,000 tokens ($0.134 for a 1K or 2K image of
    # 1120 tokens, $0.24 for a 4K image of 2000 tokens).
    "gemini-3-pro-image-preview": ModelPrice(input=2.00, output=12.0, image_output=120.0),
    # Pricing page, "Gemini 2.5 Flash" (the judge's default): input $0.30 (text/image/video),
    # output $2.50, thinking included.
    "gemini-2.5-flash": ModelPrice(input=0.30, output=2.50),
}


@dataclass(frozen=True, slots=True)
class Tokens:
    """One call's tokens as Gemini bills them: every input token, and the output split into
    image tokens and the rest (text and thoughts)."""

    input: int = 0
    output_text: int = 0
    output_image: int = 0

    @property
    def output(self) -> int:
        return self.output_text + self.output_image


class PriceTable:
    """The defaults, with `overrides` replacing or adding models."""

    def __init__(self, overrides: Mapping[str, ModelPrice] | None = None) -> None:
        self._prices = DEFAULT_PRICES | dict(overrides or {})

    def knows(self, model: str) -> bool:
        return model in self._prices

    def cost_micros(self, model: str, tokens: Tokens) -> int:
        """USD millionths; a model without a price costs 0 (start-up refuses a judge model
        without one, and every supported image model has one)."""
        price = self._prices.get(model)
        if price is None:
            return 0
        image = price.output if price.image_output is None else price.image_output
        return round(
            tokens.input * price.input + tokens.output_text * price.output + tokens.output_image * image
        )
