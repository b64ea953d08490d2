"""The cap on model calls across replicas, on PostgreSQL: `size` numbered slots, slot i the
advisory lock (SLOTS_LOCK_KEY, i), one held for each model call under way.

Every slot a process holds is held by one session: one connection of its own (`casting-slots`
in pg_stat_activity), kept while the process runs. A task beside the callers takes, in one
statement, a slot for every caller waiting, and gives back, in another, every slot freed since
its last trip: a burst of N calls is a few round trips, not 2N, and a replica holds one
connection for its slots, not one per call in flight (a fresh replica's first burst opened as
many connections as calls; bench/README.md, issue 17's eighth pass).

Advisory locks are re-entrant within a session, so the statement skips the slots this session
holds already. The connection is in autocommit: the locks belong to the session, and no
transaction idles while the model works. When a trip fails, the connection is closed, which
ends its session and every lock it held (so none outlives a failed unlock), and the slots held
then are forgotten: their calls run on, and what they free later is not unlocked on the next
connection, whose locks are others'. A connection the database dropped (a restart, a failover)
is replaced once in the trip that meets it; a second failure fails the callers waiting
(StorageUnavailable when the database is out of reach).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import random
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from casting.adapters.sql.conflicts import database_unavailable, unavailable
from casting.domain.errors import StorageUnavailable

# The advisory-lock namespace of model-call slots (its first key; the slot number is the second).
SLOTS_LOCK_KEY = 0x43A5

# Up to $5 free slots of $2..$3 in one trip. LIMIT stops the scan at the last row wanted, so no
# lock past it is taken; CASE makes PostgreSQL skip the slots this session holds (array $4)
# before it tries their lock, which would succeed again: a lock's conditions may run in any order.
_TAKE_FREE = (
    "SELECT slot FROM generate_series($2::integer, $3::integer) AS slot"
    " WHERE CASE WHEN slot = ANY($4::integer[]) THEN false"
    " ELSE pg_try_advisory_lock($1::integer, slot) END LIMIT $5"
)
_UNLOCK = "SELECT pg_advisory_unlock($1::integer, slot) FROM unnest($2::integer[]) AS slot"
# What asyncpg raises for a connection it cannot reach: the database is out of reach.
_OUT_OF_REACH = (OSError, asyncpg.ConnectionDoesNotExistError, asyncpg.InterfaceError)

log = logging.getLogger(__name__)

# A granted slot and the session that holds it.
Grant = tuple[int, int]


class AdvisorySlots:
    """`size` slots shared by every replica on one PostgreSQL database, held on a connection of
    `engine` (which needs a pool of one). Interactive callers may take any slot, the `reserved`
    first; batch callers only the others, and are served after interactive ones. When other
    replicas hold every free slot, the task looks again as soon as this process frees one, or
    else shortly (sooner while a person waits). `aclose` ends the task and the session."""

    def __init__(self, engine: AsyncEngine, size: int, reserved: int, poll_seconds: float = 0.05) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._slots = {False: range(size), True: range(reserved, size)}
        self._poll = poll_seconds
        self._waiting: dict[bool, deque[asyncio.Future[Grant]]] = {False: deque(), True: deque()}
        self._held: set[int] = set()
        self._freed: list[int] = []
        self._session = 0  # counts connections: a grant of an earlier one holds no lock any more
        self._connection: AsyncConnection | None = None
        self._driver: asyncpg.Connection | None = None
        self._wake = asyncio.Event()
        self._keeper: asyncio.Task[None] | None = None
        self._closed = False

    @asynccontextmanager
    async def hold(self, batch: bool) -> AsyncIterator[None]:
        slot, session = await self._granted(batch)
        try:
            yield
        finally:
            self._free(slot, session)

    async def aclose(self) -> None:
        """Stops taking slots and closes the session, which frees every slot it held; a call
        still holding one then frees nothing, and no caller is given one."""
        self._closed = True
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        await self._drop_connection()

    async def _granted(self, batch: bool) -> Grant:
        if self._closed:
            raise StorageUnavailable("the service is stopping; retry the request later")
        waiter: asyncio.Future[Grant] = asyncio.get_running_loop().create_future()
        self._waiting[batch].append(waiter)
        self._nudge()
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._free(*waiter.result())  # granted as the caller gave up
            raise

    def _free(self, slot: int, session: int) -> None:
        if session == self._session and not self._closed:  # else its session and lock are gone
            self._freed.append(slot)
            self._nudge()

    def _nudge(self) -> None:
        self._wake.set()
        if self._keeper is None or self._keeper.done():
            # A context of its own: not the first caller's deadline, workload or trace.
            self._keeper = asyncio.get_running_loop().create_task(
                self._keep(), name="model-call slots", context=contextvars.Context()
            )

    async def _keep(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._trip()
            except Exception as error:  # the waiting callers hear it; the next ones try anew
                self._fail_waiting(error)
            if self._anyone_waiting(batch=False) or self._anyone_waiting(batch=True):
                await self._pause()

    async def _trip(self) -> None:
        """Unlocks the freed slots, then takes one for each caller waiting; on a new connection
        once more if the kept one failed (the database may have dropped it, which asyncpg can
        report in several ways)."""
        for attempt in range(2):
            try:
                driver = await self._connected()
                await self._unlock_freed(driver)
                for batch in (False, True):  # interactive callers first
                    await self._grant(driver, batch)
                return
            except BaseException as error:
                await self._drop_connection()
                if attempt or not isinstance(error, Exception):  # a cancellation ends it at once
                    raise

    async def _connected(self) -> asyncpg.Connection:
        if self._driver is not None and self._driver.is_closed():  # a restart closed it
            await self._drop_connection()
        if self._driver is None:
            connection = await self._engine.connect()
            try:
                self._driver = (await connection.get_raw_connection()).driver_connection
            except BaseException:
                await connection.close()
                raise
            self._connection = connection
        return self._driver

    async def _unlock_freed(self, driver: asyncpg.Connection) -> None:
        if self._freed:
            freed, self._freed = self._freed, []
            self._held.difference_update(freed)
            await driver.fetch(_UNLOCK, SLOTS_LOCK_KEY, freed)

    async def _grant(self, driver: asyncpg.Connection, batch: bool) -> None:
        wanted = sum(not waiter.done() for waiter in self._waiting[batch])
        if not wanted:
            return
        slots = self._slots[batch]
        rows = await driver.fetch(_TAKE_FREE, SLOTS_LOCK_KEY, slots[0], slots[-1], list(self._held), wanted)
        for (slot,) in rows:
            self._held.add(slot)
            self._hand_over(batch, slot)

    def _hand_over(self, batch: bool, slot: int) -> None:
        """Gives `slot` to the first caller of its kind still waiting; freed if none is."""
        waiting = self._waiting[batch]
        while waiting:
            waiter = waiting.popleft()
            if not waiter.done():
                waiter.set_result((slot, self._session))
                return
        self._freed.append(slot)
        self._wake.set()

    def _anyone_waiting(self, batch: bool) -> bool:
        waiting = self._waiting[batch]
        while waiting and waiting[0].done():  # gave up
            waiting.popleft()
        return bool(waiting)

    async def _pause(self) -> None:
        """Until a caller comes or frees a slot, or else shortly: the slots wanted are held by
        other replicas."""
        seconds = self._poll * (1 if self._anyone_waiting(batch=False) else 4) * random.uniform(0.5, 1.5)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.set()

    def _fail_waiting(self, error: Exception) -> None:
        outage = isinstance(error, _OUT_OF_REACH) or unavailable(error) is not None
        log.warning(
            "model-call slots: a trip failed (%s)", "an outage" if outage else "a fault", exc_info=error
        )
        for batch in (False, True):
            while self._waiting[batch]:
                waiter = self._waiting[batch].popleft()
                if not waiter.done():
                    waiter.set_exception(_outage(error) if outage else error)

    async def _drop_connection(self) -> None:
        """Closes the kept connection, ending its session and every lock it held."""
        connection, self._connection, self._driver = self._connection, None, None
        self._held.clear()
        self._freed.clear()
        self._session += 1
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.invalidate()
            with contextlib.suppress(Exception):
                await connection.close()


def _outage(cause: Exception) -> StorageUnavailable:
    outage = database_unavailable()
    outage.__cause__ = cause
    return outage
