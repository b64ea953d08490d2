"""What one Gemini answer holds: the drawing, what it cost, or why there is no drawing.

Plain functions of a GenerateContentResponse, so that the call itself may run however it must
(on the event loop, or elsewhere) and the reading stays the same.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from google.genai import types

from casting.adapters.generators.gemini_failures import Verdict, verdict_of
from casting.adapters.generators.prices import Tokens
from casting.domain.values import ImageBytes


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


def read_answer(response: types.GenerateContentResponse) -> Answer:
    tokens = tokens_of(response.usage_metadata)
    feedback = response.prompt_feedback
    if feedback and feedback.block_reason not in (None, types.BlockedReason.BLOCKED_REASON_UNSPECIFIED):
        return Answer(None, tokens, _name(feedback.block_reason))
    if not response.candidates:
        return Answer(None, tokens, "")
    candidate = response.candidates[0]
    reason = _name(candidate.finish_reason)
    if verdict_of(reason) is Verdict.REFUSE:
        return Answer(None, tokens, reason)  # a drawing the model flagged itself is not used
    return Answer(first_image(candidate), tokens, reason)


def first_image(candidate: types.Candidate) -> ImageBytes | None:
    """The first inline image that is not a thought: the newer models send drafts as thoughts
    before the final drawing."""
    for part in (candidate.content.parts if candidate.content else None) or []:
        blob = part.inline_data
        if part.thought or not (blob and blob.data and blob.mime_type):
            continue
        if blob.mime_type.startswith("image/"):
            return ImageBytes(blob.data, blob.mime_type)
    return None


def tokens_of(usage: types.GenerateContentResponseUsageMetadata | None) -> Tokens:
    """Billed tokens, as google-genai's usage metadata defines them: input is the prompt (and
    any tool-use prompt); output is the candidates plus the thoughts, of which the candidates'
    IMAGE tokens are priced as images. An answer without usage (an error) bills nothing."""
    if usage is None:
        return Tokens()
    candidates = usage.candidates_token_count or 0
    image = sum(
        detail.token_count or 0
        for detail in usage.candidates_tokens_details or []
        if detail.modality == types.MediaModality.IMAGE
    )
    return Tokens(
        input=(usage.prompt_token_count or 0) + (usage.tool_use_prompt_token_count or 0),
        output_text=candidates - image + (usage.thoughts_token_count or 0),
        output_image=image,
    )


def _name(reason: enum.Enum | str | None) -> str:
    return reason.name if isinstance(reason, enum.Enum) else str(reason or "")
