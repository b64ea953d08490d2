"""Listing actors and story casts: keyset pages, filters, newest first."""

from __future__ import annotations

from dataclasses import replace

from casting.domain.model import Actor
from casting.domain.pagination import Cursor, PageRequest
from casting.domain.ports import ActorFilter
from casting.domain.values import Verification, VerificationCheck
from tests.integration.conftest import PROJECT, Library

EVERYONE = ActorFilter()


def cursor_after(actor: Actor) -> Cursor:
    return Cursor(actor.create_time, actor.id)


def newest_first(actors: list[Actor]) -> list[str]:
    return [a.id for a in sorted(actors, key=lambda a: (a.create_time, a.id), reverse=True)]


async def list_ids(library: Library, where: ActorFilter, size: int = 50) -> list[str]:
    async with library.uow() as uow:
        return [a.id for a in await uow.actors.list(PROJECT, where, PageRequest(size, None))]


async def test_pages_are_stable_while_actors_are_added_between_them(library: Library) -> None:
    tied = library.tick()  # two actors created in the same instant: the id breaks the tie
    actors = [library.actor(f"Actor {n}", looks=2) for n in range(5)]
    actors += [library.actor("Tie A", create_time=tied), library.actor("Tie B", create_time=tied)]
    await library.store(*actors, library.actor("Elsewhere", project="other-project"))

    seen: list[Actor] = []
    after = None
    while True:
        async with library.uow() as uow:
            rows = await uow.actors.list(PROJECT, EVERYONE, PageRequest(3, after))
        assert len(rows) <= 4
        page, more = rows[:3], len(rows) > 3
        seen += page
        if not more:
            break
        after = cursor_after(page[-1])
        await library.store(library.actor("Newcomer"))  # newer: belongs before page one

    assert [a.id for a in seen] == newest_first(actors)
    assert seen == sorted(actors, key=lambda a: (a.create_time, a.id), reverse=True)


async def test_a_display_name_prefix_is_literal_and_case_sensitive(library: Library) -> None:
    names = ["100% real", "100 percent", "a_b", "axb", "A_B", "a%b", "ab"]
    actors = {name: library.actor(name) for name in names}
    await library.store(*actors.values())

    async def prefixed(prefix: str) -> set[str]:
        ids = await list_ids(library, ActorFilter(display_name_prefix=prefix))
        return {name for name, actor in actors.items() if actor.id in ids}

    assert await prefixed("100%") == {"100% real"}
    assert await prefixed("a_") == {"a_b"}
    assert await prefixed("a%") == {"a%b"}
    assert await prefixed("a") == {"a_b", "axb", "a%b", "ab"}
    assert await prefixed("") == set(names)


async def test_filters_by_exact_name_and_approval(library: Library) -> None:
    approved = library.actor("Mina", approved=True)
    draft = library.actor("Mina")
    other = library.actor("Minato", approved=True)
    await library.store(approved, draft, other)

    assert await list_ids(library, ActorFilter(display_name="Mina")) == [draft.id, approved.id]
    assert await list_ids(library, ActorFilter(approved=True)) == [other.id, approved.id]
    assert await list_ids(library, ActorFilter(display_name_prefix="Mi", approved=False)) == [draft.id]


async def test_a_story_cast_lists_the_cast_actors_newest_first(library: Library) -> None:
    cast = [library.actor(f"Cast {n}", looks=2) for n in range(4)]
    for n, actor in enumerate(cast):
        actor.cast(actor.variants[n % 2].id, "story-1", library.tick())
    extra = library.actor("Other story")
    extra.cast(extra.variants[0].id, "story-2", library.tick())
    foreign = library.actor("Foreign", project="other-project")
    foreign.cast(foreign.variants[0].id, "story-1", library.tick())
    await library.store(*cast, extra, library.actor("Uncast"), foreign)

    async with library.uow() as uow:
        first = await uow.actors.list_cast(PROJECT, "story-1", PageRequest(2, None))
        rest = await uow.actors.list_cast(PROJECT, "story-1", PageRequest(2, cursor_after(first[1])))

    assert [a.id for a in first[:2] + rest] == newest_first(cast)
    assert len(first) == 3
    assert first[0] == cast[-1]


def judged(actor: Actor, passed: bool, *, look: int = -1, reason: str = "") -> None:
    """Gives `actor`'s look a verdict: passed, failed, or (with `reason`) not judged at all."""
    variant = actor.variants[look]
    assert variant.provenance is not None
    verification = (
        Verification.unverified(reason)
        if reason
        else Verification(
            passed, 0.9 if passed else 0.4, (VerificationCheck("identity", passed),), "offline", 2
        )
    )
    variant.provenance = replace(variant.provenance, verification=verification)


async def test_filters_to_actors_with_a_look_that_failed_verification(library: Library) -> None:
    good, drifted, unjudged, older, imported = (library.actor(n, looks=2) for n in "ABCDE")
    for actor in (good, drifted, unjudged):
        judged(actor, True, look=0)
        judged(actor, True)
    judged(drifted, False)  # its derived look drifted
    judged(unjudged, False, reason="the judge could not answer (MODEL_UNAVAILABLE)")
    # `older` keeps the defaults: stored before verification existed
    imported.variants[0].provenance = None
    await library.store(good, drifted, unjudged, older, imported)

    assert await list_ids(library, ActorFilter(verified=False)) == [drifted.id]
    assert await list_ids(library, ActorFilter(verified=True)) == [
        imported.id,
        older.id,
        unjudged.id,
        good.id,
    ]
    assert await list_ids(library, ActorFilter(display_name="A", verified=False)) == []
