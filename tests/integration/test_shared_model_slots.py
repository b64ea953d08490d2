"""On PostgreSQL the cap on model calls holds across replicas: two replicas' generators, each
allowed more calls than the shared cap, together never run more than it at the model. Each
replica holds its slots (advisory locks) on one connection, and none is left taken by a caller
who gave up or by a connection the database dropped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import make_url

from casting.adapters.generators.advisory_slots import AdvisorySlots
from casting.adapters.generators.bounded import BoundedGenerator
from casting.adapters.generators.gemini import GeminiGenerator, gemini_client
from casting.adapters.sql.engine import create_engine
from casting.domain import workload
from casting.domain.errors import StorageUnavailable
from tests.integration.test_gemini_bounded import SHEET
from tests.support import fake_gemini as fake
from tests.support.fake_gemini import FakeGemini
from tests.support.ports import free_port
from tests.support.waiting import until

SHARED_CAP = 2
LOCAL_CAP = 4
SLOTS_APPLICATION = "test-slots"

# The cap across replicas is PostgreSQL's (advisory locks); SQLite serves one process.
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


async def test_two_replicas_share_one_cap(database_url: str, fake_gemini: FakeGemini) -> None:
    engines = [create_engine(database_url, pool_size=1, max_overflow=0) for _ in range(2)]
    shared = [AdvisorySlots(engine, SHARED_CAP, 1) for engine in engines]
    calls = 2 * LOCAL_CAP
    fake_gemini.script(*[fake.image(delay=0.3)] * calls)

    async def batch_call(replica: BoundedGenerator) -> bytes:
        with workload.batch():
            return (await replica.generate(SHEET, [])).data

    async def interactive_call(replica: BoundedGenerator) -> bytes:
        return (await replica.generate(SHEET, [])).data

    try:
        async with gemini_client(
            api_key="test-key", base_url=fake_gemini.base_url, timeout_seconds=10
        ) as client:
            gemini = GeminiGenerator(client, timeout_seconds=10)
            replicas = [BoundedGenerator(gemini, LOCAL_CAP, 1, slots) for slots in shared]
            results = await asyncio.gather(
                *(interactive_call(replicas[i % 2]) for i in range(calls // 2)),
                *(batch_call(replicas[i % 2]) for i in range(calls // 2)),
            )
    finally:
        for slots, engine in zip(shared, engines, strict=True):
            await slots.aclose()
            await engine.dispose()

    assert len(results) == calls and len(fake_gemini.requests) == calls
    assert fake_gemini.peak_in_flight == SHARED_CAP


class Database:
    """What PostgreSQL shows of the slots: locks held, and the connections that hold them."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def locks(self) -> int:
        query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
        return int(await self._connection.fetchval(query))

    async def no_locks(self) -> bool:
        return await self.locks() == 0

    async def slot_connections(self) -> int:
        query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
        return int(await self._connection.fetchval(query, SLOTS_APPLICATION))

    async def drop_slot_connections(self) -> None:
        query = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1"
        await self._connection.execute(query, SLOTS_APPLICATION)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    url = make_url(database_url)
    connection = await asyncpg.connect(host=url.host, port=url.port, user=url.username, database=url.database)
    try:
        yield Database(connection)
    finally:
        await connection.close()


@pytest.fixture
async def slots(database_url: str) -> AsyncIterator[AdvisorySlots]:
    """Eight slots, the first reserved for interactive callers."""
    engine = create_engine(database_url, pool_size=1, max_overflow=0, application_name=SLOTS_APPLICATION)
    slots = AdvisorySlots(engine, size=8, reserved=1)
    try:
        yield slots
    finally:
        await slots.aclose()
        await engine.dispose()


class Holders:
    """Callers each holding a slot until they are let go."""

    def __init__(self, slots: AdvisorySlots) -> None:
        self._slots = slots
        self.holding = 0
        self.peak = 0
        self.go = asyncio.Event()

    def start(self, count: int, batch: bool = False) -> list[asyncio.Future[None]]:
        return [asyncio.ensure_future(self.hold(batch)) for _ in range(count)]

    async def holding_all(self, count: int) -> list[asyncio.Future[None]]:
        """`count` callers, once they all hold a slot."""
        callers = self.start(count)
        await until(lambda: self.holding == count)
        return callers

    async def hold(self, batch: bool = False) -> None:
        async with self._slots.hold(batch):
            self.holding += 1
            self.peak = max(self.peak, self.holding)
            await self.go.wait()
            self.holding -= 1


async def test_a_burst_takes_distinct_slots_on_one_connection(
    slots: AdvisorySlots, database: Database
) -> None:
    """Locks are re-entrant in a session, yet a caller, then eight more at once, hold eight
    locks, on one connection; the ninth waits for a freed one, and none is left taken."""
    holders = Holders(slots)
    first = asyncio.ensure_future(holders.hold())
    await until(lambda: holders.holding == 1)
    burst = holders.start(8)
    await until(lambda: holders.holding == 8)
    assert await database.locks() == 8
    assert await database.slot_connections() == 1

    holders.go.set()
    await asyncio.gather(first, *burst)
    assert holders.peak == 8
    await until(database.no_locks)  # the last freed slots are unlocked after the callers leave


async def test_batch_callers_leave_the_reserved_slot_to_people(
    slots: AdvisorySlots, database: Database
) -> None:
    batch, person = Holders(slots), Holders(slots)
    batch_work = batch.start(8, batch=True)
    await until(lambda: batch.holding == 7)
    people = asyncio.ensure_future(person.hold())
    await until(lambda: person.holding == 1)  # the reserved slot, though batch work waits
    assert await database.locks() == 8

    person.go.set()
    batch.go.set()
    await asyncio.gather(people, *batch_work)
    assert batch.peak == 7


async def test_a_caller_who_gives_up_leaves_no_slot_taken(slots: AdvisorySlots, database: Database) -> None:
    holders = Holders(slots)
    held = await holders.holding_all(8)
    gives_up = asyncio.ensure_future(holders.hold())
    await asyncio.sleep(0)  # it waits for a slot
    gives_up.cancel()
    holders.go.set()
    await asyncio.gather(*held)
    with pytest.raises(asyncio.CancelledError):
        await gives_up
    await until(database.no_locks)

    later = Holders(slots)
    again = await later.holding_all(8)
    later.go.set()
    await asyncio.gather(*again)


async def test_slots_are_taken_again_after_the_database_drops_their_connection(
    slots: AdvisorySlots, database: Database
) -> None:
    """The callers holding slots when the connection ends run on (their locks ended with it);
    what they free is not unlocked on the next connection, whose locks belong to later callers."""
    before = Holders(slots)
    held = await before.holding_all(3)
    await database.drop_slot_connections()
    await until(database.no_locks)

    after = Holders(slots)
    taken = await after.holding_all(8)
    before.go.set()
    await asyncio.gather(*held)
    assert await database.locks() == 8  # the earlier callers' frees unlocked nothing
    after.go.set()
    await asyncio.gather(*taken)
    await until(database.no_locks)


async def test_once_closed_no_slot_is_given(slots: AdvisorySlots, database: Database) -> None:
    """A server stopping closes the session, which frees the slots of calls still running."""
    holders = Holders(slots)
    running = asyncio.ensure_future(holders.hold())
    await until(lambda: holders.holding == 1)
    await slots.aclose()
    assert await database.no_locks()
    holders.go.set()
    await running
    with pytest.raises(StorageUnavailable):
        async with slots.hold(batch=False):
            pass
    assert await database.slot_connections() == 0


async def test_a_database_out_of_reach_is_storage_unavailable(database_url: str) -> None:
    """Callers waiting for a slot hear a retryable error, and the next caller tries anew."""
    unreachable = make_url(database_url).set(port=free_port())
    engine = create_engine(unreachable.render_as_string(hide_password=False), pool_size=1, max_overflow=0)
    slots = AdvisorySlots(engine, size=2, reserved=1)
    try:
        for _ in range(2):
            with pytest.raises(StorageUnavailable):
                async with slots.hold(batch=False):
                    pass
    finally:
        await slots.aclose()
        await engine.dispose()
