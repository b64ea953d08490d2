"""The operator's CASTING_DATABASE_* variables reach the server's engine and do what they say."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine

from casting.server.container import Container, opened
from casting.server.settings import Settings


@asynccontextmanager
async def server_engine(monkeypatch: pytest.MonkeyPatch, **environment: str) -> AsyncIterator[AsyncEngine]:
    """The engine the server's container builds from these CASTING_* variables."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    container = Container()
    container.settings.override(Settings())
    async with opened(container):
        yield container.engine()


async def test_the_pool_lends_size_plus_overflow_connections_then_times_out(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with server_engine(
        monkeypatch,
        CASTING_DATABASE_URL=database_url,
        CASTING_DATABASE_POOL_SIZE="1",
        CASTING_DATABASE_MAX_OVERFLOW="1",
        CASTING_DATABASE_POOL_TIMEOUT_SECONDS="0.2",
    ) as engine:
        async with engine.connect(), engine.connect():
            with pytest.raises(PoolTimeout):
                async with engine.connect():
                    pass
        async with engine.connect() as connection:  # given back, lent again
            assert (await connection.execute(text("SELECT 1"))).scalar() == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_by_default_the_connections_a_burst_opens_serve_the_next_burst(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def backends_lent_at_once(engine: AsyncEngine, count: int) -> set[int]:
        async with AsyncExitStack() as stack:
            connections = await asyncio.gather(
                *(stack.enter_async_context(engine.connect()) for _ in range(count))
            )
            return {(await c.execute(text("SELECT pg_backend_pid()"))).scalar_one() for c in connections}

    async with server_engine(monkeypatch, CASTING_DATABASE_URL=database_url) as engine:
        defaults = Settings()
        most = defaults.database_pool_size + defaults.database_max_overflow
        first = await backends_lent_at_once(engine, most)
        second = await backends_lent_at_once(engine, most)
    assert len(first) == most
    assert second == first  # none was closed on its way back, none opened again


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_postgresql_cancels_a_statement_over_the_timeout(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with (
        server_engine(
            monkeypatch, CASTING_DATABASE_URL=database_url, CASTING_DATABASE_STATEMENT_TIMEOUT_SECONDS="0.2"
        ) as engine,
        engine.connect() as connection,
    ):
        with pytest.raises(DBAPIError) as cancelled:
            # The outer bound only keeps a failing test short.
            await asyncio.wait_for(connection.execute(text("SELECT pg_sleep(60)")), 20)
    assert getattr(cancelled.value.orig, "sqlstate", None) == "57014"  # query_canceled


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word, like a hung database."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


async def test_postgresql_gives_up_connecting_after_the_connect_timeout(
    silent_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def connect(engine: AsyncEngine) -> str:
        try:
            async with engine.connect():
                return "connected"
        except TimeoutError:
            return "gave up"

    async with server_engine(
        monkeypatch,
        CASTING_DATABASE_URL=f"postgresql+asyncpg://casting@127.0.0.1:{silent_port}/casting",
        CASTING_DATABASE_CONNECT_TIMEOUT_SECONDS="0.2",
    ) as engine:
        # The outer bound only keeps a failing test short: asyncpg alone would wait 60 s.
        assert await asyncio.wait_for(connect(engine), 20) == "gave up"
