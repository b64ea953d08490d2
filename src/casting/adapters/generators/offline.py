"""The offline generator: a procedural profile sheet drawn with Pillow, no model and no network.

It is the embedded default when no Gemini key is set. Same spec and references, same bytes;
its provenance says "offline" so that no one mistakes a sheet for a model's work.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from dataclasses import asdict
from enum import Enum

from casting.adapters.generators.offline_drawing import draw_sheet
from casting.adapters.generators.offline_identity import read_identity
from casting.adapters.generators.offline_look import look_for
from casting.domain.errors import InvalidInput
from casting.domain.ports import GeneratedImage, GenerationSpec
from casting.domain.values import ImageBytes, Usage

GENERATOR = "offline"
MODEL = "procedural-v1"
PROMPT_VERSION = "offline-1"


class OfflineGenerator:
    """ImageGenerator that draws a 768x1344 PNG sheet from the traits. For a variant, the first
    reference (the parent's sheet) supplies the identity the changes leave alone."""

    async def generate(self, spec: GenerationSpec, references: list[ImageBytes]) -> GeneratedImage:
        if spec.image_size not in ("", "1K"):
            raise InvalidInput.field(
                "image_size", f"the offline generator draws 1K only, not {spec.image_size}"
            )
        # Drawing takes tens of milliseconds of CPU (Pillow releases the GIL for most of it):
        # too long to hold the event loop, so it runs in a worker thread.
        data = await asyncio.to_thread(self.draw, spec, references)
        return GeneratedImage(
            data=data,
            mime_type="image/png",
            generator=GENERATOR,
            model=MODEL,
            prompt_version=PROMPT_VERSION,
            prompt_sha256=spec_sha256(spec),
            usage=Usage(model_calls=1),  # a drawing, at no cost
        )

    def draw(self, spec: GenerationSpec, references: list[ImageBytes]) -> bytes:
        """The sheet's PNG bytes, synchronously."""
        parent = read_identity(references[0]) if references else None
        sheet = draw_sheet(look_for(spec, parent))
        out = io.BytesIO()
        # fixed encoder options and no metadata chunks: nothing varies between runs
        sheet.save(out, format="PNG", compress_level=6)
        return out.getvalue()


def spec_sha256(spec: GenerationSpec) -> str:
    """The hash of a canonical description of the spec: this generator's "prompt"."""
    canonical = json.dumps(asdict(spec), default=_plain, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _plain(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"cannot describe {type(value).__name__}")
