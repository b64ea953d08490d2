"""Reading and loading actors runs a fixed number of statements, whatever the number of rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from casting.adapters.sql.unit_of_work import SqlUnitOfWork
from casting.domain.pagination import PageRequest
from casting.domain.ports import ActorFilter
from tests.integration.conftest import PROJECT, Library
from tests.support.statements import counting

# A read: the actors with their casts, then their looks with their images.
READ_STATEMENTS = 2
# The aggregate to change, one each: actors, variants, image lists (joined to images),
# reference images, casts.
AGGREGATE_STATEMENTS = 5


async def statements_for(
    engine: AsyncEngine, library: Library, call: Callable[[SqlUnitOfWork], Awaitable[object]]
) -> int:
    async with library.uow() as uow:
        with counting(engine) as statements:
            await call(uow)
    return len(statements)


@pytest.fixture
async def one_and_fifty(library: Library) -> tuple[str, str]:
    """Two projects: one with 1 actor of 1 look, one with 50 actors of 5 looks, all cast."""
    small = library.actor(project="small")
    large = [library.actor(f"Actor {n}", looks=5) for n in range(50)]
    for actor in [small, *large]:
        actor.cast(actor.variants[-1].id, "story-1", library.tick())
    await library.store(small, *large)
    return small.id, large[-1].id


async def test_get_and_list_run_the_same_few_statements_for_1_or_50_actors(
    library: Library, engine: AsyncEngine, one_and_fifty: tuple[str, str]
) -> None:
    small_id, large_id = one_and_fifty
    page = PageRequest(50, None)

    def read(project: str, actor_id: str) -> Callable[[SqlUnitOfWork], Awaitable[object]]:
        return lambda uow: uow.actors.read(project, actor_id)

    def get(project: str, actor_id: str) -> Callable[[SqlUnitOfWork], Awaitable[object]]:
        return lambda uow: uow.actors.get(project, actor_id)

    def listing(project: str) -> Callable[[SqlUnitOfWork], Awaitable[object]]:
        return lambda uow: uow.actors.list(project, ActorFilter(), page)

    def cast(project: str) -> Callable[[SqlUnitOfWork], Awaitable[object]]:
        return lambda uow: uow.actors.list_cast(project, "story-1", page)

    for small, large, expected in [
        (read("small", small_id), read(PROJECT, large_id), READ_STATEMENTS),
        (get("small", small_id), get(PROJECT, large_id), AGGREGATE_STATEMENTS),
        (listing("small"), listing(PROJECT), READ_STATEMENTS),
        (cast("small"), cast(PROJECT), READ_STATEMENTS),
    ]:
        few = await statements_for(engine, library, small)
        many = await statements_for(engine, library, large)
        assert few == many == expected

    async with library.uow() as uow:
        listed = await uow.actors.list(PROJECT, ActorFilter(), page)
    assert len(listed) == 50
    assert all(len(actor.variants) == 5 and actor.casts for actor in listed)
