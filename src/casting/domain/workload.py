"""Whether the work under way is batch work (a CastStory step) or a person's interactive call,
carried with the call so that the cap on model calls can let interactive calls go first."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_batch: ContextVar[bool] = ContextVar("casting_batch", default=False)


@contextmanager
def batch() -> Iterator[None]:
    """Within the block, model calls are batch work: they wait while interactive calls do."""
    token = _batch.set(True)
    try:
        yield
    finally:
        _batch.reset(token)


def is_batch() -> bool:
    return _batch.get()
