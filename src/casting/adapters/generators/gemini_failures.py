"""What a failed Gemini call means: the domain error it becomes and whether to try again.

Only the HTTP code and the Google status name are kept: upstream bodies may quote the
prompt or the request and must not travel further than this module.
"""

from __future__ import annotations

import enum
import importlib
import re
import sys
from dataclasses import dataclass
from typing import Any

from google.genai import errors

from casting.domain.errors import UpstreamBusy, UpstreamUnavailable
from casting.domain.values import Usage

_UNLIMITED = sys.maxsize  # retries then end only at the generator's max_attempts
_TRANSIENT_CODES = frozenset({408, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed attempt. `retries` is how many times this reason may be retried in one
    generate call; `retry_after` is the wait the model asked for, if it said."""

    reason: str
    retries: int
    summary: str
    retry_after: float | None = None

    def error(self, next_delay: float, usage: Usage) -> UpstreamBusy | UpstreamUnavailable:
        """The domain error for giving up, charged `usage`; `next_delay` is the wait a retry
        would have had."""
        if self.reason == UpstreamBusy.reason:
            return UpstreamBusy(retry_after=self.retry_after or next_delay, usage=usage)
        return UpstreamUnavailable(reason=self.reason, usage=usage)


# An answer without an image is sometimes the model's whim: one more try, then give up.
NO_IMAGE = Failure("NO_IMAGE", retries=1, summary="an answer without an image")
# The model will not serve this request or this account whatever the prompt says (a missing
# thought signature, an account limited for policy violations): an operator's problem.
REJECTED = Failure("MODEL_REJECTED_REQUEST", retries=0, summary="the model refused the request's form")


class Verdict(enum.Enum):
    """What an answer without an image means. RETRY: the model's whim, one more try (NO_IMAGE).
    REFUSE: the model declined this prompt or its own drawing, which no retry changes
    (GenerationBlocked with the model's reason). OUTAGE: the model will not serve the request at
    all (UNAVAILABLE MODEL_REJECTED_REQUEST, no retry)."""

    RETRY = "retry"
    REFUSE = "refuse"
    OUTAGE = "outage"


# Every finish reason (google.genai.types.FinishReason) and prompt block reason (BlockedReason),
# by name; a name both enums have means the same in both. Charging needs no column: whatever the
# verdict, a call costs the tokens its usage_metadata reports (Google bills those), so a prompt
# blocked before drawing costs its input tokens, a drawing refused after the fact its input and
# output tokens, and a 429 or 5xx, which reports no usage, nothing.
VERDICTS: dict[str, Verdict] = {
    # An answer that ended without an image for no stated reason, or an unfinished one.
    "FINISH_REASON_UNSPECIFIED": Verdict.RETRY,
    "STOP": Verdict.RETRY,
    "MAX_TOKENS": Verdict.RETRY,
    "CONTINUATION": Verdict.RETRY,
    "MALFORMED_RESPONSE": Verdict.RETRY,
    # No tools are offered; a tool call is the model wandering off.
    "MALFORMED_FUNCTION_CALL": Verdict.RETRY,
    "UNEXPECTED_TOOL_CALL": Verdict.RETRY,
    "TOO_MANY_TOOL_CALLS": Verdict.RETRY,
    # Safety, policy and ownership: the same prompt gets the same refusal.
    "SAFETY": Verdict.REFUSE,
    "IMAGE_SAFETY": Verdict.REFUSE,
    "PROHIBITED_CONTENT": Verdict.REFUSE,
    "IMAGE_PROHIBITED_CONTENT": Verdict.REFUSE,
    "BLOCKLIST": Verdict.REFUSE,
    "SPII": Verdict.REFUSE,
    "RECITATION": Verdict.REFUSE,
    "IMAGE_RECITATION": Verdict.REFUSE,
    "MODEL_ARMOR": Verdict.REFUSE,
    "JAILBREAK": Verdict.REFUSE,
    "ESCALATION": Verdict.REFUSE,
    "LANGUAGE": Verdict.REFUSE,
    # The model's own "I will not draw this", said without a safety label.
    "OTHER": Verdict.REFUSE,
    "IMAGE_OTHER": Verdict.REFUSE,
    "NO_IMAGE": Verdict.REFUSE,
    # Not the prompt: the request's form, or the account.
    "MISSING_THOUGHT_SIGNATURE": Verdict.OUTAGE,
    "PUP_LIMITED_DISABLED": Verdict.OUTAGE,
}


def verdict_of(reason: str) -> Verdict:
    """The verdict on a finish or block reason; one newer than this table is retried once."""
    return VERDICTS.get(reason, Verdict.RETRY)


def _transport_errors() -> tuple[type[Exception], ...]:
    """Timeouts and broken connections, from whichever HTTP library the SDK runs on (the
    SDK lets these through unwrapped)."""
    found: list[type[Exception]] = [TimeoutError, ConnectionError]
    for module, name in (
        ("httpx2", "TransportError"),
        ("httpx", "TransportError"),
        ("aiohttp", "ClientError"),
    ):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except ImportError:
            continue
    return tuple(found)


# A 200 whose body is not JSON is a broken answer from a proxy or the model: transient.
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (*_transport_errors(), errors.UnknownApiResponseError)


def from_transport_error(error: Exception) -> Failure:
    return Failure("MODEL_UNAVAILABLE", retries=_UNLIMITED, summary=type(error).__name__)


def from_api_error(error: errors.APIError) -> Failure:
    summary = f"HTTP {error.code} {error.status or ''}".rstrip()
    if error.code == 429:
        return Failure(UpstreamBusy.reason, _UNLIMITED, summary, retry_after=_retry_hint(error))
    if error.code in _TRANSIENT_CODES:
        return Failure("MODEL_UNAVAILABLE", _UNLIMITED, summary, retry_after=_retry_hint(error))
    if 400 <= error.code < 500:
        # Invalid argument, bad key, unknown model: the same request gets the same answer.
        return Failure("MODEL_REJECTED_REQUEST", 0, summary)
    return Failure("MODEL_UNAVAILABLE", 0, summary)


def _retry_hint(error: errors.APIError) -> float | None:
    """Seconds to wait, from a google.rpc.RetryInfo detail or else a Retry-After header."""
    body: Any = error.details if isinstance(error.details, dict) else {}
    for detail in body.get("error", body).get("details") or []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            return _seconds(detail.get("retryDelay"), unit="s")  # a protobuf Duration
    headers = getattr(error.response, "headers", None) or {}
    # Retry-After may also be an HTTP date; Google sends seconds, and a date is ignored.
    return _seconds(headers.get("retry-after"))


def _seconds(text: object, unit: str = "") -> float | None:
    match = re.fullmatch(rf"\s*(\d+(?:\.\d+)?){unit}\s*", str(text))
    return float(match.group(1)) if match else None
