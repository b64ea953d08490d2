"""ImageGenerator on Gemini's image models, through google-genai's async client.

The SDK's own retries are off: this adapter alone decides when to try again, so that
attempts stay bounded, backoff honours the model's hints and no retry outlives the caller.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
from collections import Counter
from collections.abc import Awaitable, Callable

from google import genai
from google.genai import errors, types

from casting.adapters.generators.gemini_failures import (
    NO_IMAGE,
    TRANSPORT_ERRORS,
    Failure,
    from_api_error,
    from_transport_error,
)
from casting.adapters.generators.retry import Backoff
from casting.adapters.prompts.library import PromptLibrary, RenderedPrompt
from casting.domain import deadline
from casting.domain.errors import GenerationBlocked, UpstreamUnavailable
from casting.domain.ports import GeneratedImage, GenerationSpec
from casting.domain.values import ImageBytes

DEFAULT_MODEL = "gemini-2.5-flash-image"
# The version that serves image output (responseModalities, imageConfig) on the Gemini API.
API_VERSION = "v1beta"
ASPECT_RATIO = "9:16"

_SAFETY_FINISHES = frozenset(
    {
        types.FinishReason.SAFETY,
        types.FinishReason.IMAGE_SAFETY,
        types.FinishReason.PROHIBITED_CONTENT,
        types.FinishReason.IMAGE_PROHIBITED_CONTENT,
        types.FinishReason.BLOCKLIST,
        types.FinishReason.SPII,
    }
)

logger = logging.getLogger(__name__)


class GeminiGenerator:
    """Draws sheets with a Gemini image model. `base_url` points the client elsewhere (a
    proxy, or a fake in tests); `timeout_seconds` bounds each attempt; `sleep` waits out each
    backoff (tests pass one that records the delays it was asked for)."""

    def __init__(
        self,
        api_key: str,
        model: str = DEFAULT_MODEL,
        *,
        base_url: str | None = None,
        max_attempts: int = 3,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 30.0,
        timeout_seconds: float = 60.0,
        prompts: PromptLibrary | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._client = genai.Client(
            api_key=api_key,
            vertexai=False,
            http_options=types.HttpOptions(
                base_url=base_url,
                api_version=API_VERSION,
                timeout=_milliseconds(timeout_seconds),
                retry_options=types.HttpRetryOptions(attempts=1),
            ),
        )
        self._model = model
        self._max_attempts = max_attempts
        self._backoff = Backoff(backoff_seconds, max_backoff_seconds)
        self._timeout_seconds = timeout_seconds
        self._prompts = prompts or PromptLibrary()
        self._sleep = sleep

    async def generate(self, spec: GenerationSpec, references: list[ImageBytes]) -> GeneratedImage:
        prompt = self._prompts.render(spec, reference_count=len(references))
        # References first: the model reads the prompt's "first image" as the first part.
        contents: list[types.PartUnion] = [
            *(types.Part.from_bytes(data=r.data, mime_type=r.mime_type) for r in references),
            prompt.text,
        ]
        seen: Counter[str] = Counter()
        for attempt in range(1, self._max_attempts + 1):
            outcome = await self._attempt(contents, prompt)
            if isinstance(outcome, GeneratedImage):
                return outcome
            seen[outcome.reason] += 1
            delay = self._backoff.delay(attempt, outcome.retry_after)
            logger.warning("gemini attempt %d of %d failed: %s", attempt, self._max_attempts, outcome.summary)
            if (
                attempt == self._max_attempts
                or seen[outcome.reason] > outcome.retries
                or not self._backoff.allows(delay)
            ):
                raise outcome.error(delay)
            await self._sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def aclose(self) -> None:
        """Closes the client's connection pools."""
        await self._client.aio.aclose()
        self._client.close()

    async def _attempt(
        self, contents: list[types.PartUnion], prompt: RenderedPrompt
    ) -> GeneratedImage | Failure:
        config = types.GenerateContentConfig(
            response_modalities=["IMAGE"],
            image_config=types.ImageConfig(aspect_ratio=ASPECT_RATIO),
            http_options=types.HttpOptions(timeout=self._attempt_timeout()),
        )
        try:
            response = await self._client.aio.models.generate_content(
                model=self._model, contents=contents, config=config
            )
        except errors.APIError as error:
            return from_api_error(error)
        except TRANSPORT_ERRORS as error:
            return from_transport_error(error)
        image = _image_of(response)
        if image is None:
            return NO_IMAGE
        return GeneratedImage(
            data=image.data,
            mime_type=image.mime_type,
            generator="gemini",
            model=self._model,
            prompt_version=prompt.version,
            prompt_sha256=prompt.sha256,
        )

    def _attempt_timeout(self) -> int:
        """Milliseconds for one attempt: the configured timeout, cut to the caller's deadline."""
        left = deadline.remaining()
        if left is None:
            return _milliseconds(self._timeout_seconds)
        if left <= 0:
            raise UpstreamUnavailable(message="the caller's deadline passed before the model call")
        return _milliseconds(min(self._timeout_seconds, left))


def _image_of(response: types.GenerateContentResponse) -> ImageBytes | None:
    """The first inline image of the first candidate. Raises GenerationBlocked when the
    model refused the prompt or its own image, which no retry can change."""
    feedback = response.prompt_feedback
    if feedback and feedback.block_reason not in (None, types.BlockedReason.BLOCKED_REASON_UNSPECIFIED):
        raise GenerationBlocked(model_reason=_name(feedback.block_reason))
    if not response.candidates:
        return None
    candidate = response.candidates[0]
    if candidate.finish_reason in _SAFETY_FINISHES:
        raise GenerationBlocked(model_reason=_name(candidate.finish_reason))
    parts = (candidate.content.parts if candidate.content else None) or []
    for part in parts:
        blob = part.inline_data
        if blob and blob.data and blob.mime_type and blob.mime_type.startswith("image/"):
            return ImageBytes(blob.data, blob.mime_type)
    return None


def _name(reason: enum.Enum | str | None) -> str:
    return reason.name if isinstance(reason, enum.Enum) else str(reason)


def _milliseconds(seconds: float) -> int:
    # At least 1: the SDK reads a timeout of 0 as no timeout at all.
    return max(1, math.ceil(seconds * 1000))
