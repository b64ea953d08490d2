"""The read side (adapters/sql/actor_documents.py) answers what rendering the aggregate answers,
in one statement a call; an actor saved without rendering (by an older release) is rendered as
it is read, never answered stale, until `render_behind` catches it up."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from casting.adapters.sql.actor_documents import SqlActorDocuments
from casting.adapters.sql.direct_reads import DirectReads, direct_reads
from casting.adapters.sql.unit_of_work import SqlUnitOfWork
from casting.domain.documents import ActorDocument, CastDocument
from casting.domain.pagination import Cursor, PageRequest
from casting.domain.ports import ActorFilter
from casting.server.mapping import actor_from_document, render_actor
from tests.integration.conftest import PROJECT, Library
from tests.integration.test_sql_reads import _rich_library
from tests.support.statements import counting

PAGE = PageRequest(50, None)
STORIES = (None, "story-1", "story-2")


@pytest.fixture
def rendering(session_factory: async_sessionmaker[AsyncSession]) -> Library:
    """A library whose units of work render what they save, as the server's do."""
    return Library(lambda: SqlUnitOfWork(session_factory, render=render_actor))


@pytest.fixture
async def reads(engine: AsyncEngine) -> AsyncIterator[DirectReads]:
    async with direct_reads(engine) as reads:
        yield reads


@pytest.fixture
def documents(engine: AsyncEngine, reads: DirectReads) -> SqlActorDocuments:
    return SqlActorDocuments(engine, reads, render_actor)


def shown(document: ActorDocument | None) -> dict[str | None, bytes]:
    """What GetActor answers from the document, with no story and in each story."""
    assert document is not None
    return {story: actor_from_document(document, story).SerializeToString() for story in STORIES}


async def as_read_now(library: Library, project: str, actor_id: str) -> ActorDocument:
    """The actor's documents rendered from its aggregate as the database holds it now."""
    async with library.uow() as uow:
        aggregate = await uow.actors.get(project, actor_id)
    assert aggregate is not None
    return render_actor(aggregate)


async def statements(engine: AsyncEngine, reads: DirectReads, call: Callable[[], Awaitable[object]]) -> int:
    with counting(engine, reads) as sent:
        await call()
    return len(sent)


async def test_reads_answer_the_rendered_aggregate_in_one_statement(
    rendering: Library, documents: SqlActorDocuments, engine: AsyncEngine, reads: DirectReads
) -> None:
    full, plain, elsewhere = await _rich_library(rendering)
    for actor in (full, plain, elsewhere):
        now = await as_read_now(rendering, actor.project, actor.id)
        assert shown(await documents.get(actor.project, actor.id)) == shown(now)
        # The story look shows in its story only.
        assert len(set(shown(now).values())) == (2 if actor is full else 1)
    assert await documents.get(PROJECT, elsewhere.id) is None  # another project's actor

    listed = await documents.list(PROJECT, ActorFilter(), PAGE)
    assert [d.id for d in listed][-2:] == [plain.id, full.id]  # newest first
    for document in listed:
        assert document.actor == (await as_read_now(rendering, PROJECT, document.id)).actor

    cast = await documents.list_cast(PROJECT, "story-1", PAGE)
    assert [(member.id, member.display_name) for member in cast] == [(plain.id, "Plain"), (full.id, "Full")]
    story_look = next(look for look in full.variants if look.story == "story-1")
    assert cast[1].look == next(
        look.document for look in render_actor(full).looks if look.id == story_look.id
    )

    # The documents and nothing else: one statement, for one actor or a page of them.
    assert await statements(engine, reads, lambda: documents.get(PROJECT, full.id)) == 1
    assert await statements(engine, reads, lambda: documents.list(PROJECT, ActorFilter(), PAGE)) == 1
    assert await statements(engine, reads, lambda: documents.list_cast(PROJECT, "story-1", PAGE)) == 1


async def test_an_actor_saved_without_rendering_is_read_as_it_is_now(
    rendering: Library,
    library: Library,
    documents: SqlActorDocuments,
    engine: AsyncEngine,
    reads: DirectReads,
) -> None:
    full, plain, _ = await _rich_library(rendering)
    # An older release renames the actor and casts another look: its rows change, not its documents.
    async with library.uow() as uow:
        actor = await uow.actors.get(PROJECT, full.id)
        assert actor is not None
        actor.revise(library.tick(), display_name="Renamed by an older release")
        actor.cast(actor.variants[0].id, "story-1", library.tick())
        await uow.actors.save(actor)
        await uow.commit()
    now = await as_read_now(library, PROJECT, full.id)

    assert shown(await documents.get(PROJECT, full.id)) == shown(now)
    listed = await documents.list(PROJECT, ActorFilter(), PAGE)
    assert [d.actor for d in listed if d.id == full.id] == [now.actor]
    cast = {member.id: member for member in await documents.list_cast(PROJECT, "story-1", PAGE)}
    assert cast[full.id].display_name == "Renamed by an older release"
    assert cast[full.id].look == now.looks[0].document
    # Rendering it then costs the aggregate's statements on top of the documents'.
    assert await statements(engine, reads, lambda: documents.get(PROJECT, full.id)) > 1

    # Catching up renders exactly the actors behind (the one changed, and one never rendered),
    # after which reads are back to one statement, with the same answer.
    never = library.actor("Never rendered")
    await library.store(never)
    assert await documents.render_behind() == 2
    assert await documents.render_behind() == 0
    assert shown(await documents.get(PROJECT, full.id)) == shown(now)
    assert shown(await documents.get(PROJECT, never.id)) == shown(render_actor(never))
    assert await statements(engine, reads, lambda: documents.get(PROJECT, full.id)) == 1
    assert plain.id in {d.id for d in await documents.list(PROJECT, ActorFilter(), PAGE)}


async def test_pages_of_documents_follow_the_cursor_as_the_aggregate_pages_do(
    rendering: Library, documents: SqlActorDocuments
) -> None:
    cast = [rendering.actor(f"Cast {n}", looks=2) for n in range(5)]
    for n, actor in enumerate(cast):
        actor.cast(actor.variants[n % 2].id, "story-1", rendering.tick())
    await rendering.store(*cast, rendering.actor("Uncast"), rendering.actor("Foreign", project="other"))

    async with rendering.uow() as uow:
        everyone = await uow.actors.list(PROJECT, ActorFilter(), PageRequest(50, None))
        everyone_cast = await uow.actors.list_cast(PROJECT, "story-1", PageRequest(50, None))

    async def listing(page: PageRequest) -> Sequence[ActorDocument | CastDocument]:
        return await documents.list(PROJECT, ActorFilter(), page)

    async def casting(page: PageRequest) -> Sequence[ActorDocument | CastDocument]:
        return await documents.list_cast(PROJECT, "story-1", page)

    for read, expected in ((listing, everyone), (casting, everyone_cast)):
        pages: list[list[str]] = []
        after: Cursor | None = None
        while True:
            rows = await read(PageRequest(2, after))
            pages.append([row.id for row in rows[:2]])
            if len(rows) <= 2:
                break
            after = Cursor(rows[1].create_time, rows[1].id)
        assert [actor_id for page in pages for actor_id in page] == [actor.id for actor in expected]
        assert all(len(page) == 2 for page in pages[:-1])


async def test_every_filter_lists_the_actors_the_aggregate_listing_does(
    rendering: Library, documents: SqlActorDocuments
) -> None:
    names = ["100% real", "100 percent", "a_b", "axb", "A_B", "a%b", "a/b", "ab"]
    await rendering.store(*(rendering.actor(name, approved=n % 2 == 0) for n, name in enumerate(names)))
    filters = [
        ActorFilter(),
        *(ActorFilter(display_name_prefix=prefix) for prefix in ("100%", "a_", "a%", "a/", "a", "")),
        ActorFilter(display_name="a_b"),
        ActorFilter(display_name_prefix="a", approved=True),
        ActorFilter(approved=False, verified=True),
        ActorFilter(verified=False),
    ]
    for where in filters:
        async with rendering.uow() as uow:
            expected = [actor.id for actor in await uow.actors.list(PROJECT, where, PAGE)]
        assert [document.id for document in await documents.list(PROJECT, where, PAGE)] == expected, where
    assert len(await documents.list(PROJECT, ActorFilter(display_name_prefix="a"), PAGE)) == 5
