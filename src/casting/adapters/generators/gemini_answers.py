"""What one Gemini answer holds: the drawing, what it cost, or why there is no drawing.

An image answer is ~2 MB of JSON. google-genai would decode it to a str, parse it with
`json.loads` and validate every part into its pydantic types (~3 ms of CPU under the GIL a
sheet, the largest share of a burst of answers). The generator asks the SDK for the raw HTTP
answer instead (`should_return_http_response`, public) and reads it here: the JSON in one pass
of pydantic-core (~0.25 ms), then the one image kept decoded by pybase64's SIMD code (~0.1 ms;
pydantic's own base64 took ~0.7 ms). The SDK's own types cannot be used for that pass: they
forbid fields they do not know, which the API adds over time (the SDK strips them first, in
private code), so the few fields read here have a schema of their own that ignores the rest.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

import pybase64
from google.genai import types
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from casting.adapters.generators.gemini_failures import Verdict, verdict_of
from casting.adapters.generators.prices import Tokens
from casting.domain.values import ImageBytes

BLOCKED_REASON_UNSPECIFIED = "BLOCKED_REASON_UNSPECIFIED"
IMAGE_MODALITY = "IMAGE"


@dataclass(frozen=True, slots=True)
class Answer:
    """The drawing (None when there is none), the tokens billed, and the model's reason when
    there is no drawing or the model refused it."""

    image: ImageBytes | None
    tokens: Tokens
    reason: str = ""

    @property
    def verdict(self) -> Verdict | None:
        """None for a drawing to use; else what the missing drawing means."""
        return None if self.image is not None else verdict_of(self.reason)


class _Read(BaseModel):
    """The API's field names (camelCase), unknown fields ignored."""

    model_config = ConfigDict(alias_generator=to_camel, extra="ignore")


class _Blob(_Read):
    mime_type: str | None = None
    data: str | None = None  # base64


class _Part(_Read):
    thought: bool | None = None
    inline_data: _Blob | None = None


class _Content(_Read):
    parts: list[_Part] | None = None


class _Candidate(_Read):
    content: _Content | None = None
    finish_reason: str | None = None


class _PromptFeedback(_Read):
    block_reason: str | None = None


class _ModalityTokens(_Read):
    modality: str | None = None
    token_count: int | None = None


class _Usage(_Read):
    prompt_token_count: int | None = None
    tool_use_prompt_token_count: int | None = None
    candidates_token_count: int | None = None
    candidates_tokens_details: list[_ModalityTokens] | None = None
    thoughts_token_count: int | None = None


class _ImageAnswer(_Read):
    candidates: list[_Candidate] | None = None
    prompt_feedback: _PromptFeedback | None = None
    usage_metadata: _Usage | None = None


def read_answer(body: str | bytes) -> Answer:
    """The answer in a generateContent response's JSON body."""
    response = _ImageAnswer.model_validate_json(body)
    tokens = tokens_of(response.usage_metadata)
    feedback = response.prompt_feedback
    if feedback and feedback.block_reason not in (None, BLOCKED_REASON_UNSPECIFIED):
        return Answer(None, tokens, feedback.block_reason)
    if not response.candidates:
        return Answer(None, tokens, "")
    candidate = response.candidates[0]
    reason = candidate.finish_reason or ""
    if verdict_of(reason) is Verdict.REFUSE:
        return Answer(None, tokens, reason)  # a drawing the model flagged itself is not used
    return Answer(_first_image(candidate), tokens, reason)


def _first_image(candidate: _Candidate) -> ImageBytes | None:
    """The first inline image that is not a thought: the newer models send drafts as thoughts
    before the final drawing."""
    for part in (candidate.content.parts if candidate.content else None) or []:
        blob = part.inline_data
        if part.thought or not (blob and blob.data and blob.mime_type):
            continue
        if blob.mime_type.startswith("image/"):
            return ImageBytes(_decoded(blob.data), blob.mime_type)
    return None


def _decoded(data: str) -> bytes:
    """Bytes as protobuf's JSON sends them: base64 in either alphabet, padded or not (what
    pydantic's base64 accepted). A copy is made only to pad."""
    padded = data + "=" * (-len(data) % 4)
    try:
        return pybase64.b64decode(padded, validate=True)
    except binascii.Error:
        return pybase64.b64decode(padded, altchars="-_", validate=True)


def tokens_of(usage: types.GenerateContentResponseUsageMetadata | _Usage | None) -> Tokens:
    """Billed tokens, as google-genai's usage metadata defines them: input is the prompt (and
    any tool-use prompt); output is the candidates plus the thoughts, of which the candidates'
    IMAGE tokens are priced as images. An answer without usage (an error) bills nothing. Read
    from google-genai's type (the judge's answers) or from the image answer's own."""
    if usage is None:
        return Tokens()
    candidates = usage.candidates_token_count or 0
    image = sum(
        detail.token_count or 0
        for detail in usage.candidates_tokens_details or []
        if detail.modality == IMAGE_MODALITY  # google-genai's MediaModality is a str enum
    )
    return Tokens(
        input=(usage.prompt_token_count or 0) + (usage.tool_use_prompt_token_count or 0),
        output_text=candidates - image + (usage.thoughts_token_count or 0),
        output_image=image,
    )
