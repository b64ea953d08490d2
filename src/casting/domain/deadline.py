"""The caller's deadline, carried with the request so that adapters start no work past it.

The server sets it from the gRPC deadline; adapters ask `remaining()` before each attempt.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("casting_deadline", default=None)


@contextmanager
def bounded_by(seconds_left: float | None) -> Iterator[None]:
    """Within the block, remaining() counts down from `seconds_left` (None: no deadline)."""
    token = _deadline.set(None if seconds_left is None else time.monotonic() + seconds_left)
    try:
        yield
    finally:
        _deadline.reset(token)


@contextmanager
def at_most(seconds: float) -> Iterator[None]:
    """Within the block, remaining() is at most `seconds`: the caller's deadline, or this sooner
    one, so that work no caller bounds (a console page, a background job) still ends."""
    left = remaining()
    with bounded_by(seconds if left is None else min(left, seconds)):
        yield


def remaining() -> float | None:
    """Seconds left before the caller gives up, or None when the caller set no deadline."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()
