"""Judge on a Gemini vision model, through google-genai's async client in JSON mode.

The model gets the reference sheets (identity anchor first, lineage root after), then the
candidate, then the versioned judging prompt, and answers in a response schema whose every
field reads "true / higher = passes". One call per drawing and no retry: a judge that cannot
answer makes the drawing "unverified" (the painter keeps it), it does not hold the request.
"""

from __future__ import annotations

import math

from google import genai
from google.genai import errors, types
from pydantic import BaseModel, Field, ValidationError

from casting.adapters.generators.gemini import NO_FUNCTION_CALLING
from casting.adapters.generators.gemini_answers import tokens_of
from casting.adapters.generators.gemini_failures import TRANSPORT_ERRORS, from_api_error, from_transport_error
from casting.adapters.generators.prices import PriceTable
from casting.adapters.prompts.library import PromptLibrary
from casting.domain import deadline
from casting.domain.errors import UpstreamUnavailable
from casting.domain.ports import GenerationSpec, Judgement
from casting.domain.values import ImageBytes, Usage, VerificationCheck

DEFAULT_MODEL = "gemini-2.5-flash"


class Verdict(BaseModel):
    """The response schema. Field names are the questions; true / higher always passes."""

    same_person_score: float = Field(
        ge=0.0, le=1.0, description="1 = unmistakably the same person as the references, 0 = someone else"
    )
    vertical_9_16_layout: bool = Field(description="true = one vertical 9:16 sheet")
    full_body_about_70_percent: bool = Field(
        description="true = a full-body front view at about 70% of the height"
    )
    two_or_three_expression_insets: bool = Field(description="true = 2 or 3 expression headshot insets")
    clean_background: bool = Field(description="true = a clean, plain background")
    free_of_text: bool = Field(description="true = no text anywhere")
    free_of_watermark: bool = Field(description="true = no watermark or logo")
    free_of_speech_bubbles: bool = Field(description="true = no speech or thought bubbles")


# Each schema field and the sheet rule it answers (DESIGN.md's rule names).
RULES = {
    "vertical_9_16_layout": "aspect_9_16",
    "full_body_about_70_percent": "full_body",
    "two_or_three_expression_insets": "expression_insets",
    "clean_background": "clean_background",
    "free_of_text": "no_text",
    "free_of_watermark": "no_watermark",
    "free_of_speech_bubbles": "no_speech_bubbles",
}


class GeminiJudge:
    """Judges drawings with `model` (CASTING_JUDGE_MODEL) through `client` (gemini_client: the
    Gemini API or Vertex AI, as the generator's), its calls priced by `prices`."""

    def __init__(
        self,
        client: genai.Client,
        model: str = DEFAULT_MODEL,
        *,
        timeout_seconds: float = 60.0,
        prices: PriceTable | None = None,
        prompts: PromptLibrary | None = None,
    ) -> None:
        self._client = client
        self._model = model
        self._timeout_seconds = timeout_seconds
        self._prices = prices or PriceTable()
        self._prompts = prompts or PromptLibrary()

    @property
    def name(self) -> str:
        return f"gemini:{self._model}"

    async def judge(
        self, spec: GenerationSpec, candidate: ImageBytes, references: list[ImageBytes]
    ) -> Judgement:
        prompt = self._prompts.render_judgement(spec, reference_count=len(references))
        contents: list[types.PartUnion] = [
            *(types.Part.from_bytes(data=r.data, mime_type=r.mime_type) for r in (*references, candidate)),
            prompt.text,
        ]
        config = types.GenerateContentConfig(
            response_mime_type="application/json",
            response_schema=Verdict,
            temperature=0.0,
            http_options=types.HttpOptions(timeout=self._call_timeout()),
            automatic_function_calling=NO_FUNCTION_CALLING,
        )
        try:
            response = await self._client.aio.models.generate_content(
                model=self._model, contents=contents, config=config
            )
        except errors.APIError as error:
            raise from_api_error(error).error(0.0, Usage(model_calls=1)) from error
        except TRANSPORT_ERRORS as error:
            raise from_transport_error(error).error(0.0, Usage(model_calls=1)) from error
        verdict = _verdict_of(response)
        checks = tuple(
            VerificationCheck(rule, getattr(verdict, field), f"{prompt.version} {prompt.sha256[:12]}")
            for field, rule in RULES.items()
        )
        return Judgement(
            identity_score=verdict.same_person_score if references else None,
            checks=checks,
            judge=self.name,
            usage=self._usage_of(response),
        )

    def _usage_of(self, response: types.GenerateContentResponse) -> Usage:
        """One model call, with the tokens its answer reports, priced."""
        tokens = tokens_of(response.usage_metadata)
        return Usage(
            model_calls=1,
            input_tokens=tokens.input,
            output_tokens=tokens.output,
            cost_micros=self._prices.cost_micros(self._model, tokens),
        )

    def _call_timeout(self) -> int:
        left = deadline.remaining()
        if left is not None and left <= 0:
            raise UpstreamUnavailable(
                "JUDGE_UNAVAILABLE", "the caller's deadline passed before the judge call"
            )
        return _milliseconds(self._timeout_seconds if left is None else min(self._timeout_seconds, left))


def _verdict_of(response: types.GenerateContentResponse) -> Verdict:
    """The answer read against the schema; anything else is a judge that did not answer."""
    if isinstance(response.parsed, Verdict):
        return response.parsed
    try:
        return Verdict.model_validate_json(response.text or "")
    except (ValidationError, ValueError) as error:
        raise UpstreamUnavailable(
            "JUDGE_UNREADABLE", "the judge's answer did not follow its schema"
        ) from error


def _milliseconds(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))
