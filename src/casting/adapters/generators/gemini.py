"""ImageGenerator on Gemini's image models, through google-genai's async client.

The SDK's own retries are off: this adapter alone decides when to try again, so that
attempts stay bounded, backoff honours the model's hints and no retry outlives the caller.
"""

from __future__ import annotations

import asyncio
import logging
import math
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp
from google import genai
from google.auth.credentials import Credentials
from google.genai import errors, types

from casting.adapters.generators.gemini_answers import Answer, read_answer
from casting.adapters.generators.gemini_failures import (
    NO_IMAGE,
    REJECTED,
    TRANSPORT_ERRORS,
    Failure,
    Verdict,
    from_api_error,
    from_transport_error,
)
from casting.adapters.generators.gemini_models import DEFAULT_SIZE, ImageModel, image_model
from casting.adapters.generators.prices import PriceTable
from casting.adapters.generators.retry import Backoff
from casting.adapters.prompts.library import PromptLibrary
from casting.domain import deadline
from casting.domain.errors import GenerationBlocked, InvalidInput, UpstreamUnavailable
from casting.domain.ports import GeneratedImage, GenerationSpec
from casting.domain.values import ImageBytes, Usage

DEFAULT_MODEL = "gemini-2.5-flash-image"
# The versions that serve image output (responseModalities, imageConfig): the Gemini API's, and
# Vertex AI's (google-genai's own default there).
API_VERSIONS = {"gemini-api": "v1beta", "vertex": "v1beta1"}
ASPECT_RATIO = "9:16"
# No tools are declared. With automatic function calling on (the SDK's default), every call
# deep-copies its config and logs "AFC is enabled" at INFO, ready to run what the model asks.
NO_FUNCTION_CALLING = types.AutomaticFunctionCallingConfigDict(disable=True)
# An image answer is ~2 MB of JSON: a read buffer as large as the SDK's own session's, so that
# taking one in never pauses the socket (aiohttp's default is 64 KiB).
ANSWER_BUFFER_BYTES = 4 * 1024 * 1024

Backend = Literal["gemini-api", "vertex"]

logger = logging.getLogger(__name__)


@asynccontextmanager
async def gemini_client(
    *,
    backend: Backend = "gemini-api",
    api_key: str = "",
    project: str | None = None,
    location: str | None = None,
    credentials: Credentials | None = None,
    base_url: str | None = None,
    timeout_seconds: float = 60.0,
) -> AsyncIterator[genai.Client]:
    """A client of the Gemini API (an API key) or of Vertex AI (a project and location, with
    `credentials` or else Application Default Credentials), its own retries off, calling on
    connections of ours that close when the block ends; entered on the loop that calls it.

    The SDK's own connections would look up ~/.netrc and the environment's proxy on a thread for
    every call (aiohttp's trust_env): two hand-offs a call, up to ~1.7 ms of a GenerateSheet's
    CPU. Ours take the proxy once, here."""
    _build_sdk_types()
    endpoint = base_url or _default_endpoint(backend, location)
    session = aiohttp.ClientSession(
        # No limit of its own, as the SDK's: the model-call cap bounds the calls.
        connector=aiohttp.TCPConnector(limit=0),
        read_bufsize=ANSWER_BUFFER_BYTES,
    )
    http_options = types.HttpOptions(
        base_url=base_url,
        api_version=API_VERSIONS[backend],
        timeout=_milliseconds(timeout_seconds),
        retry_options=types.HttpRetryOptions(attempts=1),
        aiohttp_client=session,
        async_client_args=_environment_proxy(endpoint),
    )
    if backend == "vertex":
        client = genai.Client(
            vertexai=True,
            project=project,
            location=location,
            credentials=credentials,
            http_options=http_options,
        )
    else:
        client = genai.Client(api_key=api_key, vertexai=False, http_options=http_options)
    try:
        yield client
    finally:
        await client.aio.aclose()
        client.close()
        await session.close()  # the SDK leaves a session it was given open


def _build_sdk_types() -> None:
    """google-genai builds each of its types' validators on first use: ~35 ms of CPU in a fresh
    process's first drawing and first judgement, which every call then queued on the loop
    waits out. These are the types the requests and answers of both make, built at start-up."""
    part = types.Part.from_bytes(data=b"", mime_type="image/png")
    types.UserContent(parts=[part, types.Part.from_text(text="")])
    types.GenerateContentConfig(
        response_modalities=["IMAGE"],
        image_config=types.ImageConfig(aspect_ratio=ASPECT_RATIO),
        response_schema=types.Schema(type=types.Type.OBJECT),
    )
    types.GenerateContentResponse(
        sdk_http_response=types.HttpResponse(headers={}),
        candidates=[types.Candidate(content=types.Content(parts=[part]))],
        usage_metadata=types.GenerateContentResponseUsageMetadata(
            prompt_tokens_details=[types.ModalityTokenCount(token_count=0)]
        ),
    )


def _environment_proxy(url: str) -> dict[str, Any]:
    """aiohttp's request arguments for the proxy the environment names for `url` (HTTPS_PROXY,
    HTTP_PROXY, NO_PROXY, in either case; credentials in its URL go to the proxy alone): none
    when it names none."""
    parts = urlsplit(url)
    if parts.hostname is None or urllib.request.proxy_bypass(parts.hostname):
        return {}
    named = urllib.request.getproxies().get(parts.scheme)
    return {"proxy": named} if named else {}


def _default_endpoint(backend: Backend, location: str | None) -> str:
    """Where the SDK calls when given no base URL (read here only to choose a proxy)."""
    if backend == "gemini-api":
        return "https://generativelanguage.googleapis.com/"
    if location and location != "global":
        return f"https://{location}-aiplatform.googleapis.com/"
    return "https://aiplatform.googleapis.com/"


class GeminiGenerator:
    """Draws sheets with a Gemini image model through `client` (gemini_client). The model must
    be one of gemini_models' (ValueError otherwise); `timeout_seconds` bounds each attempt, and
    must be the client's own (gemini_client's): an attempt passes a timeout of its own only when
    the caller's deadline is nearer, since the SDK deep-copies its options for a call that does
    (~500 of the ~15,000 Python calls of a GenerateSheet); `prices` turns the tokens each answer
    reports into what it cost; `sleep` waits out each backoff (tests pass one that records the
    delays it was asked for)."""

    def __init__(
        self,
        client: genai.Client,
        model: str = DEFAULT_MODEL,
        *,
        max_attempts: int = 3,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 30.0,
        timeout_seconds: float = 60.0,
        prices: PriceTable | None = None,
        prompts: PromptLibrary | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._client = client
        self._model: ImageModel = image_model(model)
        self._max_attempts = max_attempts
        self._backoff = Backoff(backoff_seconds, max_backoff_seconds)
        self._timeout_seconds = timeout_seconds
        self._timeout_ms = _milliseconds(timeout_seconds)
        self._prices = prices or PriceTable()
        self._prompts = prompts or PromptLibrary()
        self._sleep = sleep

    async def generate(self, spec: GenerationSpec, references: list[ImageBytes]) -> GeneratedImage:
        if problem := self._model.size_problem(spec.image_size):
            raise InvalidInput.field("image_size", problem)
        # The identity anchor comes first, so a model that takes fewer keeps the one that matters.
        references = references[: self._model.max_references]
        prompt = self._prompts.render(spec, reference_count=len(references))
        # References first: the model reads the prompt's "first image" as the first part.
        contents: list[types.PartUnion] = [
            *(types.Part.from_bytes(data=r.data, mime_type=r.mime_type) for r in references),
            prompt.text,
        ]
        image_config = types.ImageConfigDict(aspect_ratio=ASPECT_RATIO)
        if spec.image_size and spec.image_size != DEFAULT_SIZE:
            image_config["image_size"] = spec.image_size
        spent = Usage()
        seen: Counter[str] = Counter()
        for attempt in range(1, self._max_attempts + 1):
            timeout_ms = self._attempt_timeout()
            if timeout_ms is None:
                raise UpstreamUnavailable(message="the deadline passed before the model call", usage=spent)
            outcome = await self._attempt(contents, image_config, timeout_ms)
            spent += self._usage(outcome)
            if isinstance(outcome, Answer):
                if outcome.image is not None:
                    return GeneratedImage(
                        data=outcome.image.data,
                        mime_type=outcome.image.mime_type,
                        generator="gemini",
                        model=self._model.name,
                        prompt_version=prompt.version,
                        prompt_sha256=prompt.sha256,
                        usage=spent,
                    )
                if outcome.verdict is Verdict.REFUSE:
                    raise GenerationBlocked(model_reason=outcome.reason, usage=spent)
                outcome = _failure_of(outcome)
            seen[outcome.reason] += 1
            delay = self._backoff.delay(attempt, outcome.retry_after)
            logger.warning("gemini attempt %d of %d failed: %s", attempt, self._max_attempts, outcome.summary)
            if (
                attempt == self._max_attempts
                or seen[outcome.reason] > outcome.retries
                or not self._backoff.allows(delay)
            ):
                raise outcome.error(delay, spent)
            await self._sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _attempt(
        self, contents: list[types.PartUnion], image_config: types.ImageConfigDict, timeout_ms: int
    ) -> Answer | Failure:
        # As a dict: the SDK builds its config from one, where it deep-copies a config object.
        config = types.GenerateContentConfigDict(
            response_modalities=["IMAGE"],
            image_config=image_config,
            http_options=None
            if timeout_ms == self._timeout_ms
            else types.HttpOptionsDict(timeout=timeout_ms),
            # The answer's JSON as it came: read_answer parses it at a third of the SDK's cost.
            should_return_http_response=True,
            automatic_function_calling=NO_FUNCTION_CALLING,
        )
        try:
            response = await self._client.aio.models.generate_content(
                model=self._model.name, contents=contents, config=config
            )
        except errors.APIError as error:
            return from_api_error(error)
        except TRANSPORT_ERRORS as error:
            return from_transport_error(error)
        http = response.sdk_http_response
        return read_answer((http.body if http else None) or "{}")

    def _usage(self, outcome: Answer | Failure) -> Usage:
        """One model call, with the tokens its answer reports (an error reports none)."""
        if isinstance(outcome, Failure):
            return Usage(model_calls=1)
        tokens = outcome.tokens
        cost = self._prices.cost_micros(self._model.name, tokens)
        return Usage(model_calls=1, input_tokens=tokens.input, output_tokens=tokens.output, cost_micros=cost)

    def _attempt_timeout(self) -> int | None:
        """Milliseconds for one attempt: the configured timeout, cut to the deadline; None when
        the deadline has passed."""
        left = deadline.remaining()
        if left is None:
            return self._timeout_ms
        if left <= 0:
            return None
        return _milliseconds(min(self._timeout_seconds, left))


def _failure_of(answer: Answer) -> Failure:
    """The failure of an answer without a drawing that is no refusal."""
    reason = answer.reason or "no reason given"
    if answer.verdict is Verdict.OUTAGE:
        return Failure(REJECTED.reason, REJECTED.retries, f"{REJECTED.summary} ({reason})")
    return Failure(NO_IMAGE.reason, NO_IMAGE.retries, f"{NO_IMAGE.summary} ({reason})")


def _milliseconds(seconds: float) -> int:
    # At least 1: the SDK reads a timeout of 0 as no timeout at all.
    return max(1, math.ceil(seconds * 1000))
