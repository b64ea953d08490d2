"""The in-memory actor cache: what it keeps, for how long, and what it must never answer."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

import pytest

from casting.adapters.recent_actors import RecentActors
from casting.domain.errors import NotFound
from casting.domain.model import Actor, VariantKind
from casting.domain.values import Image, Traits

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def an_actor(actor_id: str = "a1", project: str = "p", display_name: str = "Mina") -> Actor:
    image = Image("i1", project, "blob", "image/png", 9, 16, 1, "0" * 64, NOW)
    return Actor.found(
        actor_id=actor_id,
        look_id=f"{actor_id}-look",
        project=project,
        display_name=display_name,
        description="",
        kind=VariantKind.IMPORTED,
        traits=Traits(),
        story_style="romance",
        image_style="webtoon",
        image=image,
        provenance=None,
        approved=False,
        now=NOW,
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Database:
    """A load() that counts its reads and answers the current row (or waits, when asked)."""

    def __init__(self, actor: Actor | None) -> None:
        self.actor = actor
        self.reads = 0
        self.hold: asyncio.Event | None = None
        self.began = asyncio.Event()

    async def load(self) -> Actor:
        self.reads += 1
        self.began.set()
        answer, hold = self.actor, self.hold
        if hold is not None:
            await hold.wait()
        if answer is None:
            raise NotFound("actor", "projects/p/actors/a1")
        return answer

    async def reading(self) -> None:
        """Until a read has begun."""
        await self.began.wait()


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def test_a_read_within_the_time_costs_no_load_and_one_after_it_does(clock: Clock) -> None:
    cache = RecentActors(ttl_seconds=1.0, clock=clock)
    db = Database(an_actor())
    first = await cache.get("p", "a1", db.load)
    clock.now = 0.99
    assert await cache.get("p", "a1", db.load) is first
    assert db.reads == 1
    clock.now = 1.0
    db.actor = an_actor(display_name="Mina Park")
    assert (await cache.get("p", "a1", db.load)).display_name == "Mina Park"
    assert db.reads == 2


async def test_forget_drops_the_actor_at_once(clock: Clock) -> None:
    cache = RecentActors(ttl_seconds=60, clock=clock)
    db = Database(an_actor())
    await cache.get("p", "a1", db.load)
    db.actor = an_actor(display_name="Mina Park")
    cache.forget(["a1"])
    assert (await cache.get("p", "a1", db.load)).display_name == "Mina Park"


async def test_a_read_under_way_at_a_commit_is_neither_joined_nor_kept(clock: Clock) -> None:
    cache = RecentActors(ttl_seconds=60, clock=clock)
    db = Database(an_actor())
    db.hold = slow_read = asyncio.Event()
    under_way = asyncio.create_task(cache.get("p", "a1", db.load))
    await db.reading()  # it has read the row as it was before the commit, and waits
    db.actor, db.hold = an_actor(display_name="Mina Park"), None
    cache.forget(["a1"])  # the commit of the rename
    assert (await cache.get("p", "a1", db.load)).display_name == "Mina Park"
    assert db.reads == 2
    slow_read.set()
    assert (await under_way).display_name == "Mina"  # it began before the commit
    assert (await cache.get("p", "a1", db.load)).display_name == "Mina Park"
    assert db.reads == 2


async def test_callers_that_miss_together_share_one_read(clock: Clock) -> None:
    cache = RecentActors(ttl_seconds=60, clock=clock)
    db = Database(an_actor())
    db.hold = asyncio.Event()
    readers = [asyncio.create_task(cache.get("p", "a1", db.load)) for _ in range(20)]
    await db.reading()
    db.hold.set()
    answers = await asyncio.gather(*readers)
    assert db.reads == 1
    assert all(answer is answers[0] for answer in answers)


async def test_a_caller_that_gives_up_leaves_the_read_to_the_others(clock: Clock) -> None:
    cache = RecentActors(ttl_seconds=60, clock=clock)
    db = Database(an_actor())
    db.hold = asyncio.Event()
    quitter = asyncio.create_task(cache.get("p", "a1", db.load))
    patient = asyncio.create_task(cache.get("p", "a1", db.load))
    await db.reading()
    quitter.cancel()
    db.hold.set()
    assert (await patient).display_name == "Mina"
    assert quitter.cancelled()
    assert db.reads == 1


async def test_another_projects_caller_is_never_answered_from_memory(clock: Clock) -> None:
    cache = RecentActors(ttl_seconds=60, clock=clock)
    await cache.get("p", "a1", Database(an_actor()).load)
    with pytest.raises(NotFound):
        await cache.get("other", "a1", Database(None).load)


async def test_an_error_is_not_kept(clock: Clock) -> None:
    cache = RecentActors(ttl_seconds=60, clock=clock)
    db = Database(None)
    with pytest.raises(NotFound):
        await cache.get("p", "a1", db.load)
    db.actor = an_actor()
    assert (await cache.get("p", "a1", db.load)).id == "a1"
    assert db.reads == 2


async def test_zero_seconds_keeps_nothing(clock: Clock) -> None:
    cache = RecentActors(ttl_seconds=0, clock=clock)
    db = Database(an_actor())
    await cache.get("p", "a1", db.load)
    await cache.get("p", "a1", db.load)
    assert db.reads == 2


async def test_past_its_size_the_oldest_actor_goes(clock: Clock) -> None:
    cache = RecentActors(ttl_seconds=60, max_actors=2, clock=clock)
    dbs = {actor_id: Database(an_actor(actor_id)) for actor_id in ("a1", "a2", "a3")}
    for actor_id, db in dbs.items():
        await cache.get("p", actor_id, db.load)
    await cache.get("p", "a3", dbs["a3"].load)
    await cache.get("p", "a1", dbs["a1"].load)
    assert {actor_id: db.reads for actor_id, db in dbs.items()} == {"a1": 2, "a2": 1, "a3": 1}


async def test_an_expired_actor_is_let_go_when_another_is_kept(clock: Clock) -> None:
    cache = RecentActors(ttl_seconds=1.0, clock=clock)
    first = await cache.get("p", "a1", Database(an_actor("a1")).load)
    clock.now = 5.0
    await cache.get("p", "a2", Database(an_actor("a2")).load)
    assert sys.getrefcount(first) == 2  # this test's name and getrefcount's argument only
