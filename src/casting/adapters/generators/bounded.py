"""A cap on concurrent model calls, so that a burst of requests queues here instead of
exhausting the model's quota or the process's memory. Slots are awaited, never a thread pool:
the calls are async and waiting costs nothing.

Interactive calls (a person waiting on GenerateSheet or BranchVariant) go ahead of batch work
(CastStory's steps, `domain.workload.batch`): a freed slot goes to a waiting interactive call
first, and batch work never holds the last `reserved` slots, so a batch of any size delays an
interactive call by at most one model call's time. On PostgreSQL the cap also holds across
replicas: each call holds one of N numbered advisory locks (AdvisorySlots).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from casting.domain import workload
from casting.domain.errors import StorageUnavailable
from casting.domain.ports import GeneratedImage, GenerationSpec, ImageGenerator
from casting.domain.values import ImageBytes

# The advisory-lock namespace of model-call slots (its first key; the slot number is the second).
SLOTS_LOCK_KEY = 0x43A5


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


# The first free slot in one trip, not one trip per slot tried (the n-th call of a burst tried n):
# LIMIT stops the scan at the first row whose lock was taken, so no other lock is.
_TAKE_FIRST_FREE = (
    "SELECT slot FROM generate_series($2::integer, $3::integer) AS slot"
    " WHERE pg_try_advisory_lock($1::integer, slot) LIMIT 1"
)
_UNLOCK = "SELECT pg_advisory_unlock($1::integer, $2::integer)"
# What asyncpg raises for a connection the database dropped while it sat in the pool (a failover
# that left its socket open): it fails on first use.
_DROPPED = (OSError, asyncpg.ConnectionDoesNotExistError, asyncpg.InterfaceError)


class AdvisorySlots:
    """`size` slots shared by every replica on one PostgreSQL database: slot i is the advisory
    lock (SLOTS_LOCK_KEY, i), held on a connection of `engine` (a pool of its own) for the call.
    A caller who finds every slot taken looks again shortly, interactive callers more often.

    Two round trips a call, the lock and the unlock, sent on the pooled connection's asyncpg
    connection: through SQLAlchemy's statement machinery the pair cost twice the CPU
    (bench/README.md, issue 17's sixth pass). The connections are in autocommit: the lock
    belongs to the session, and no transaction idles while the model works. The pool's reset
    when one comes back is then free and would not release the lock anyway: the unlock does, or,
    when it fails, the connection is closed, which ends its session and every lock it held, so
    that no next holder inherits one. A pooled connection the database dropped is closed at its
    first statement and the next one tried: a lock taken on a dropped connection is not held."""

    def __init__(self, engine: AsyncEngine, size: int, reserved: int, poll_seconds: float = 0.05) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._size = size
        self._interactive = range(size)  # the reserved slots first
        self._batch = range(reserved, size)
        self._poll = poll_seconds

    @asynccontextmanager
    async def hold(self, batch: bool) -> AsyncIterator[None]:
        connection, driver, slot = await self._take(self._batch if batch else self._interactive, batch)
        try:
            yield
        finally:
            unlocked = False
            with contextlib.suppress(Exception):  # the call's answer stands whatever this meets
                try:
                    unlocked = bool(await driver.fetchval(_UNLOCK, SLOTS_LOCK_KEY, slot))
                finally:
                    await _give_back(connection, unlocked)

    async def _take(self, slots: range, batch: bool) -> tuple[AsyncConnection, asyncpg.Connection, int]:
        """A pooled connection holding the first free slot of `slots`, its asyncpg connection,
        and the slot. Every connection the pool holds may have been dropped at once: each is
        tried once at most before the database counts as out of reach."""
        for _ in range(self._size + 1):
            connection = await self._engine.connect()
            try:
                driver = (await connection.get_raw_connection()).driver_connection
                return connection, driver, await self._first_free(driver, slots, batch)
            except _DROPPED:
                await _give_back(connection, unlocked=False)
            except BaseException:
                await _give_back(connection, unlocked=False)  # cancelled, perhaps with the lock taken
                raise
        raise StorageUnavailable("the database is unavailable; retry the request later")

    async def _first_free(self, driver: asyncpg.Connection, slots: range, batch: bool) -> int:
        while True:
            slot = await driver.fetchval(_TAKE_FIRST_FREE, SLOTS_LOCK_KEY, slots[0], slots[-1])
            if slot is not None:
                return int(slot)
            await asyncio.sleep(self._poll * (4 if batch else 1) * random.uniform(0.5, 1.5))


async def _give_back(connection: AsyncConnection, unlocked: bool) -> None:
    """Gives the connection back to its pool if it holds no slot; else closes it, which ends its
    session and every lock the session held (a connection already lost released them)."""
    if not unlocked:
        await connection.invalidate()
    await connection.close()


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
