"""Run in a fresh interpreter: `python -m tests.support.first_model_calls <Gemini base URL>`.

Opens the service's Gemini client, then makes one drawing and one judgement through it, and
prints as JSON which of google-genai's public types each of those first calls had to build
(the SDK builds a type's validator on its first use)."""

from __future__ import annotations

import asyncio
import json
import sys

import pydantic
from google.genai import types

from casting.adapters.generators.gemini import GeminiGenerator, gemini_client
from casting.adapters.judges.gemini import GeminiJudge
from casting.domain.ports import GenerationKind, GenerationSpec
from casting.domain.values import ImageBytes, Style, Traits

SPEC = GenerationSpec(
    GenerationKind.SHEET, Traits(mood="calm"), Style("noir", "Noir", "Ink."), Style("flat", "Flat", "Flat.")
)


def unbuilt() -> set[str]:
    """The public types whose validators are not built yet."""
    return {
        name
        for name, kind in vars(types).items()
        if not name.startswith("_")
        and isinstance(kind, type)
        and issubclass(kind, pydantic.BaseModel)
        and not kind.__pydantic_complete__
    }


async def main(base_url: str) -> dict[str, list[str]]:
    async with gemini_client(api_key="first-calls", base_url=base_url) as client:
        before = unbuilt()
        drawing = await GeminiGenerator(client).generate(SPEC, [])
        after_drawing = unbuilt()
        await GeminiJudge(client).judge(SPEC, ImageBytes(drawing.data, drawing.mime_type), [])
        return {"drawing": sorted(before - after_drawing), "judgement": sorted(after_drawing - unbuilt())}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
