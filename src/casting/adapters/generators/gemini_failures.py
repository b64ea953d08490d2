"""What a failed Gemini call means: the domain error it becomes and whether to try again.

Only the HTTP code and the Google status name are kept: upstream bodies may quote the
prompt or the request and must not travel further than this module.
"""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass
from typing import Any

from google.genai import errors

from casting.domain.errors import UpstreamBusy, UpstreamUnavailable

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

    def error(self, next_delay: float) -> UpstreamBusy | UpstreamUnavailable:
        """The domain error for giving up; `next_delay` is the wait a retry would have had."""
        if self.reason == UpstreamBusy.reason:
            return UpstreamBusy(retry_after=self.retry_after or next_delay)
        return UpstreamUnavailable(reason=self.reason)


# An answer without an image is sometimes the model's whim: one more try, then give up.
NO_IMAGE = Failure("NO_IMAGE", retries=1, summary="an answer without an image")


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
