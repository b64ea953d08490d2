"""A cap on concurrent model calls, so that a burst of requests queues here instead of
exhausting the model's quota or the process's memory. Slots are awaited, never a thread pool:
the calls are async and waiting costs nothing.

Interactive calls (a person waiting on GenerateSheet or BranchVariant) go ahead of batch work
(CastStory's steps, `domain.workload.batch`): a freed slot goes to a waiting interactive call
first, and batch work never holds the last `reserved` slots, so a batch of any size delays an
interactive call by at most one model call's time. On PostgreSQL the cap also holds across
replicas: each call holds one of N numbered advisory locks (advisory_slots.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from casting.domain import workload
from casting.domain.ports import GeneratedImage, GenerationSpec, ImageGenerator
from casting.domain.values import ImageBytes


class Slots(Protocol):
    def hold(self, batch: bool) -> AbstractAsyncContextManager[None]:
        """One slot for the block; batch callers get only the slots not reserved."""


class LocalSlots:
    """`size` slots of this process; waiting interactive callers are served before batch ones,
    each kind in arrival order, and batch holders never take the last `reserved` slots."""

    def __init__(self, size: int, reserved: int) -> None:
        self._size = size
        self._batch_cap = size - reserved
        self._in_use = 0
        self._batch_in_use = 0
        self._waiting: dict[bool, deque[asyncio.Future[None]]] = {False: deque(), True: deque()}

    @property
    def in_use(self) -> int:
        return self._in_use

    def _can_take(self, batch: bool) -> bool:
        return self._in_use < self._size and (not batch or self._batch_in_use < self._batch_cap)

    def _take(self, batch: bool) -> None:
        self._in_use += 1
        self._batch_in_use += batch

    def _release(self, batch: bool) -> None:
        self._in_use -= 1
        self._batch_in_use -= batch
        for kind in (False, True):  # interactive first
            queue = self._waiting[kind]
            while queue and self._can_take(kind):
                waiter = queue.popleft()
                if not waiter.done():
                    self._take(kind)
                    waiter.set_result(None)
            if queue:
                return  # callers of this kind still wait: those after them wait too

    @asynccontextmanager
    async def hold(self, batch: bool) -> AsyncIterator[None]:
        ahead = self._waiting[False] or (batch and self._waiting[True])
        if ahead or not self._can_take(batch):
            waiter = asyncio.get_running_loop().create_future()
            self._waiting[batch].append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._release(batch)  # granted as the caller gave up: pass it on
                else:
                    self._waiting[batch].remove(waiter)
                raise
        else:
            self._take(batch)
        try:
            yield
        finally:
            self._release(batch)


class BoundedGenerator:
    """An ImageGenerator running at most `max_concurrent` calls of `inner` at once in this
    process (and, with `shared`, across replicas); further callers wait their turn (and give up
    with their own deadline)."""

    def __init__(
        self,
        inner: ImageGenerator,
        max_concurrent: int = 16,
        reserved_for_interactive: int = 1,
        shared: Slots | None = None,
    ) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self._inner = inner
        # One slot cannot be both reserved and the only one batch work may use.
        reserved = min(reserved_for_interactive, max_concurrent - 1)
        self._local = LocalSlots(max_concurrent, reserved)
        self._shared = shared
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        """Calls running now (not those waiting), for metrics."""
        return self._in_flight

    async def generate(self, spec: GenerationSpec, references: list[ImageBytes]) -> GeneratedImage:
        batch = workload.is_batch()
        async with self._local.hold(batch):
            shared = self._shared.hold(batch) if self._shared is not None else contextlib.nullcontext()
            async with shared:
                self._in_flight += 1
                try:
                    return await self._inner.generate(spec, references)
                finally:
                    self._in_flight -= 1
