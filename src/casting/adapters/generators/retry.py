"""When to call a model again: jittered exponential backoff, within the caller's deadline."""

from __future__ import annotations

import random
from dataclasses import dataclass

from casting.domain import deadline


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits of `base_seconds`, doubling per retry; none longer than `max_seconds`."""

    base_seconds: float = 1.0
    max_seconds: float = 30.0

    def delay(self, retry: int, hint: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (1 for the first), at least `hint`.

        Half of each step is random, so that callers who failed together do not return
        together, and half is fixed, so that a retry never comes back at once.
        """
        step = self.base_seconds * 2.0 ** (retry - 1)
        return max(hint or 0.0, step / 2 + random.uniform(0.0, step / 2))

    def allows(self, delay: float) -> bool:
        """Whether a retry after `delay` seconds may start: a longer wait holds a
        concurrency slot for too long, and one past the caller's deadline is wasted."""
        left = deadline.remaining()
        return delay <= self.max_seconds and (left is None or delay < left)
