"""A cap on concurrent model calls, so that a burst of requests queues here instead of
exhausting the model's quota or the process's memory. A semaphore, never a thread pool:
the calls are async and waiting costs nothing."""

from __future__ import annotations

import asyncio

from casting.domain.ports import GeneratedImage, GenerationSpec, ImageGenerator
from casting.domain.values import ImageBytes


class BoundedGenerator:
    """An ImageGenerator running at most `max_concurrent` calls of `inner` at once; further
    callers wait their turn (and give up with their own deadline)."""

    def __init__(self, inner: ImageGenerator, max_concurrent: int = 16) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self._inner = inner
        self._slots = asyncio.Semaphore(max_concurrent)
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        """Calls running now (not those waiting), for metrics."""
        return self._in_flight

    async def generate(self, spec: GenerationSpec, references: list[ImageBytes]) -> GeneratedImage:
        async with self._slots:
            self._in_flight += 1
            try:
                return await self._inner.generate(spec, references)
            finally:
                self._in_flight -= 1
