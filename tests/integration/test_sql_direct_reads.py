"""Reads straight on the driver (adapters/sql/direct_reads.py) answer what the engine answers for
the same statement: the same rows, each value converted by its column's type, the parameters by
theirs; a database out of reach is StorageUnavailable, as through the engine."""

from __future__ import annotations

import asyncio
import socket
from datetime import datetime, timedelta
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Integer, Select, bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from casting.adapters.sql.direct_reads import direct_reads
from casting.adapters.sql.engine import create_engine, create_session_factory
from casting.adapters.sql.models import ActorRow, VariantRow
from casting.adapters.sql.timestamps import UtcDateTime
from casting.adapters.sql.unit_of_work import SqlUnitOfWork
from casting.domain.errors import StorageUnavailable
from tests.integration.conftest import PROJECT, START, Library
from tests.support.statements import counting
from tests.support.waiting import until

_ACTORS = ActorRow.__table__
_LOOKS = VariantRow.__table__

# Every kind of value a read answers: text, an aware timestamp, a boolean expression, JSON, a
# NULL; a parameter whose type converts it (the timestamp), one the statement holds (the limit),
# and one used twice.
_ACTORS_AFTER: Select[Any] = (
    select(
        _ACTORS.c.id,
        _ACTORS.c.create_time,
        (_ACTORS.c.version == bindparam("version")).label("at_version"),
        _ACTORS.c.approved,
        _LOOKS.c.traits,
        _LOOKS.c.story_id,
    )
    .select_from(_ACTORS.outerjoin(_LOOKS, _LOOKS.c.character_id == _ACTORS.c.id))
    .where(
        _ACTORS.c.project == bindparam("project"),
        _ACTORS.c.create_time > bindparam("after", type_=UtcDateTime()),
        _ACTORS.c.version >= bindparam("version"),
    )
    .order_by(_ACTORS.c.create_time, _LOOKS.c.create_time)
    .limit(bindparam("limit", 5, type_=Integer))
)


async def through_engine(engine: AsyncEngine, values: dict[str, Any]) -> list[tuple[Any, ...]]:
    async with engine.connect() as connection:
        return [tuple(row) for row in await connection.execute(_ACTORS_AFTER, values)]


async def test_a_direct_read_answers_the_engines_rows_and_types(
    engine: AsyncEngine, library: Library
) -> None:
    actors = [library.actor(f"Actor {n}", looks=2, approved=n % 2 == 0) for n in range(4)]
    await library.store(*actors, library.actor("Elsewhere", project="other"))
    values = {"project": PROJECT, "after": actors[0].create_time, "version": 1}

    async with direct_reads(engine) as reads:
        rows = await reads.fetch(_ACTORS_AFTER, values)
        again = await reads.fetch(_ACTORS_AFTER, {**values, "after": START - timedelta(days=1), "limit": 2})

    assert [tuple(row) for row in rows] == await through_engine(engine, values)
    # After the first actor, by the time converted for the database, up to the limit held.
    assert [row.id for row in rows] == [actors[1].id, actors[1].id, actors[2].id, actors[2].id, actors[3].id]
    first = rows[0]
    assert first.create_time == actors[1].create_time and first.create_time.utcoffset() == timedelta(0)
    assert isinstance(first.create_time, datetime)
    assert (first.at_version, first.approved) == (True, False)
    assert first.traits["gender"] == actors[1].variants[0].traits.gender.value
    assert first.story_id is None
    assert [row.id for row in again] == [actors[0].id, actors[0].id]


async def test_an_in_memory_database_is_read_through_its_engine() -> None:
    engine = create_engine("sqlite+aiosqlite://")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(ActorRow.metadata.create_all)
        library = Library(lambda: SqlUnitOfWork(create_session_factory(engine)))
        actor = library.actor("Only in memory")
        await library.store(actor)
        values = {"project": PROJECT, "after": START, "version": 1}
        async with direct_reads(engine) as reads:
            with counting(engine, reads) as sent:
                rows = await reads.fetch(_ACTORS_AFTER, values)
        assert [row.id for row in rows] == [actor.id]
        assert [tuple(row) for row in rows] == await through_engine(engine, values)
        assert len(sent) == 1  # the engine's statement, heard once
    finally:
        await engine.dispose()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_postgresql_out_of_reach_is_storage_unavailable() -> None:
    engine = create_engine(f"postgresql+asyncpg://casting@127.0.0.1:{closed_port()}/casting")
    try:
        async with direct_reads(engine, connect_timeout=2) as reads:
            with pytest.raises(StorageUnavailable):
                await reads.fetch(_ACTORS_AFTER, {"project": PROJECT, "after": START, "version": 1})
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_no_free_read_connection_is_storage_unavailable_until_one_is_given_back(
    engine: AsyncEngine,
) -> None:
    lock = select(func.pg_advisory_lock(17))  # waits while another session holds it
    # In autocommit, so that each look at pg_stat_activity sees it now.
    sessions = engine.execution_options(isolation_level="AUTOCOMMIT")
    async with sessions.connect() as holder, direct_reads(engine, pool_size=1, pool_timeout=0.2) as reads:
        await holder.execute(lock)
        waiting = asyncio.ensure_future(reads.fetch(lock, {}))

        async def the_read_waits_on_the_lock() -> bool:
            waits = text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = 'casting-reads' AND wait_event_type = 'Lock'"
            )
            return (await holder.execute(waits)).scalar_one() == 1

        await until(the_read_waits_on_the_lock)  # the pool's only connection, lent
        with pytest.raises(StorageUnavailable):
            await reads.fetch(_ACTORS_AFTER, {"project": PROJECT, "after": START, "version": 1})
        await holder.execute(select(func.pg_advisory_unlock(17)))
        await waiting
        assert await reads.fetch(_ACTORS_AFTER, {"project": PROJECT, "after": START, "version": 1}) == []


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_read_over_the_statement_timeout_is_cancelled_and_storage_unavailable(
    engine: AsyncEngine,
) -> None:
    async with direct_reads(engine, statement_timeout=0.2) as reads:
        with pytest.raises(StorageUnavailable) as cancelled:
            # The outer bound only keeps a failing test short.
            await asyncio.wait_for(reads.fetch(select(func.pg_sleep(60)), {}), 20)
    assert getattr(cancelled.value.__cause__, "sqlstate", None) == "57014"  # query_canceled


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_url_without_prepared_statements_reads_without_them(database_url: str) -> None:
    """As behind PgBouncer in transaction mode: the URL's `prepared_statement_cache_size=0`,
    which the engine's dialect reads, holds for the direct reads too."""
    engine = create_engine(f"{database_url}?prepared_statement_cache_size=0")
    try:
        async with direct_reads(engine) as reads:
            for _ in range(2):
                assert await reads.fetch(select(func.count()).select_from(_ACTORS), {}) == [(0,)]
            [prepared] = await reads.fetch(
                select(func.count()).select_from(text("pg_prepared_statements")), {}
            )
        assert prepared == (0,)
    finally:
        await engine.dispose()


async def test_each_statement_is_a_span_when_tracing_is_on(engine: AsyncEngine) -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    values = {"project": PROJECT, "after": START, "version": 1}
    async with direct_reads(engine, tracing=provider) as reads:
        await reads.fetch(_ACTORS_AFTER, values)
    [span] = spans.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["db.system"] == engine.dialect.name
    assert str(span.attributes["db.statement"]).startswith("SELECT characters.id")
