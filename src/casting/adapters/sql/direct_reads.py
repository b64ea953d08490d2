"""The read side's statements run straight on the database driver: asyncpg's own pool on
PostgreSQL, an aiosqlite connection of their own on a SQLite file.

SQLAlchemy's Connection and Result (a pool checkout, an execution context, a cursor, rows) cost
the event loop ~250 µs a statement, the driver alone 35 µs (aiosqlite) to 90 µs (asyncpg): with
them a GetActor that missed the cache held the serving loop ~810 µs, against ~160 µs for a
no-op RPC (bench/README.md, fifteenth pass). The statements are still SQLAlchemy's, built once
and compiled for the engine's dialect on first use, their columns' types converting parameters
and results as on a Connection. An in-memory SQLite database, which lives in the engine's one
connection, is read through the engine."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections import namedtuple
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from typing import Any, Protocol

import aiosqlite
import asyncpg
from opentelemetry import trace
from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from casting.adapters.sql.conflicts import (
    UNAVAILABLE_SQLSTATES,
    database_unavailable,
    outages_as_domain_errors,
)
from casting.adapters.sql.disconnects import read_on
from casting.adapters.sql.engine import SQLITE_RULES, for_reads, is_in_memory_sqlite

StatementListener = Callable[[str], None]
_REQUIRED = object()  # a parameter each call gives


class CompiledRead:
    """A SELECT compiled once for a dialect: its SQL, its parameters in the driver's order with
    their types' conversions, and a row type converting each column as its type says."""

    def __init__(self, query: Select[Any], dialect: Dialect) -> None:
        compiled = query.compile(dialect=dialect)
        self.sql = compiled.string
        # Each parameter: its name, its value if the statement holds one, its type's conversion.
        self._parameters = []
        for name in compiled.positiontup or ():
            bind = compiled.binds[name]
            held = _REQUIRED if bind.required else bind.effective_value
            self._parameters.append((name, held, bind.type.dialect_impl(dialect).bind_processor(dialect)))
        columns = list(query.selected_columns)
        self._results = [
            (index, convert)
            for index, column in enumerate(columns)
            if (convert := column.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
        ]
        self._row = namedtuple("Row", [str(column.key) for column in columns], rename=True)  # type: ignore[misc]

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        arguments = []
        for name, held, convert in self._parameters:
            value = values[name] if held is _REQUIRED else values.get(name, held)
            arguments.append(convert(value) if convert else value)
        return arguments

    def rows(self, fetched: Sequence[Sequence[Any]]) -> list[Any]:
        rows = []
        for row in fetched:
            values = list(row)
            for index, convert in self._results:
                values[index] = convert(values[index])
            rows.append(self._row(*values))
        return rows


class DirectReads(Protocol):
    """Runs SELECTs built once (module-level statements: each is compiled and kept on first use)
    and answers their rows, each column by name. Every `listeners` callable hears the SQL of
    each statement sent past the engine, as it is sent (the engine's own events tell the rest)."""

    listeners: list[StatementListener]

    async def fetch(self, query: Select[Any], values: Mapping[str, Any]) -> list[Any]: ...


class _DriverReads(ABC):
    """Compiles each statement once, tells the listeners, and traces it when a tracer is given."""

    def __init__(self, dialect: Dialect, tracer: trace.Tracer | None) -> None:
        self._dialect = dialect
        self._tracer = tracer
        self._compiled: dict[Select[Any], CompiledRead] = {}
        self.listeners: list[StatementListener] = []

    async def fetch(self, query: Select[Any], values: Mapping[str, Any]) -> list[Any]:
        read = self._compiled.get(query)
        if read is None:
            read = self._compiled[query] = CompiledRead(query, self._dialect)
        for listener in self.listeners:
            listener(read.sql)
        with self._span(read.sql):
            return read.rows(await self._fetch(read.sql, read.arguments(values)))

    def _span(self, sql: str) -> AbstractContextManager[object]:
        if self._tracer is None:
            return nullcontext()
        attributes = {"db.system": self._dialect.name, "db.statement": sql}
        return self._tracer.start_as_current_span("SELECT", kind=trace.SpanKind.CLIENT, attributes=attributes)

    @abstractmethod
    async def _fetch(self, sql: str, arguments: list[Any]) -> Sequence[Sequence[Any]]: ...


class AsyncpgReads(_DriverReads):
    """On asyncpg's pool, in autocommit (one round trip a statement)."""

    def __init__(
        self, pool: asyncpg.Pool, dialect: Dialect, acquire_timeout: float, tracer: trace.Tracer | None
    ) -> None:
        super().__init__(dialect, tracer)
        self._pool = pool
        self._acquire_timeout = acquire_timeout

    async def _fetch(self, sql: str, arguments: list[Any]) -> Sequence[Sequence[Any]]:
        try:
            try:
                return await self._fetch_once(sql, arguments)
            except Exception as error:
                if not _dropped(error):
                    raise
            # The connection was lost (a restart, a failover): so may be every other pooled one.
            # A read may run again; it does, once, on a new connection.
            await self._pool.expire_connections()
            return await self._fetch_once(sql, arguments)
        except Exception as error:
            if (
                _dropped(error)
                or isinstance(error, TimeoutError)
                or _sqlstate(error) in UNAVAILABLE_SQLSTATES
            ):
                raise database_unavailable() from error
            raise

    async def _fetch_once(self, sql: str, arguments: list[Any]) -> Sequence[Sequence[Any]]:
        async with self._pool.acquire(timeout=self._acquire_timeout) as connection:
            records: list[Any] = await connection.fetch(sql, *arguments)
            return records


class SqliteReads(_DriverReads):
    """On an aiosqlite connection of their own, its every statement one trip to its thread.
    One connection: a read costs SQLite microseconds, and each more thread woken costs the
    serving loop's process more than that."""

    def __init__(
        self, connection: aiosqlite.Connection, dialect: Dialect, tracer: trace.Tracer | None
    ) -> None:
        super().__init__(dialect, tracer)
        self._connection = connection

    async def _fetch(self, sql: str, arguments: list[Any]) -> Sequence[Sequence[Any]]:
        return list(await self._connection.execute_fetchall(sql, arguments))


class EngineReads:
    """Through the engine, for an in-memory SQLite database, which only the engine's one
    connection holds: its statements are the engine's (traced and heard as every other), none
    sent past it for the listeners."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = for_reads(engine)
        self.listeners: list[StatementListener] = []

    async def fetch(self, query: Select[Any], values: Mapping[str, Any]) -> list[Any]:
        async def read(connection: AsyncConnection) -> list[Any]:
            return list(await connection.execute(query, values))

        async with outages_as_domain_errors():
            return await read_on(self._engine, read)


@asynccontextmanager
async def direct_reads(
    engine: AsyncEngine,
    *,
    pool_size: int = 10,
    pool_timeout: float = 30.0,
    connect_timeout: float = 10.0,
    statement_timeout: float = 30.0,
    application_name: str = "casting-reads",
    tracing: trace.TracerProvider | None = None,
) -> AsyncIterator[DirectReads]:
    """Direct reads on `engine`'s database, closed on leaving. On PostgreSQL a pool of up to
    `pool_size` connections, opened as needed, with the engine's timeouts (create_engine says
    what each does); on a SQLite file one connection. With `tracing`, a span a statement."""
    url, dialect = engine.url, engine.dialect
    tracer = None
    if tracing is not None and not isinstance(tracing, trace.NoOpTracerProvider):
        tracer = tracing.get_tracer(__name__)
    if dialect.name == "postgresql":
        _, connect_arguments = dialect.create_connect_args(url)
        # The URL's name (SQLAlchemy's) for asyncpg's statement cache: 0 behind PgBouncer.
        if "prepared_statement_cache_size" in connect_arguments:
            cache_size = connect_arguments.pop("prepared_statement_cache_size")
            connect_arguments["statement_cache_size"] = int(cache_size)
        pool = await asyncpg.create_pool(
            **connect_arguments,
            min_size=0,
            max_size=pool_size,
            timeout=connect_timeout,
            init=_json_as_the_engine_reads_it,
            # These SELECTs in autocommit leave nothing in the session to undo: no reset query
            # (asyncpg's default, a round trip on every release).
            reset=_nothing_to_reset,
            server_settings={
                "statement_timeout": str(round(statement_timeout * 1000)),
                "application_name": application_name,
            },
        )
        try:
            yield AsyncpgReads(pool, dialect, pool_timeout, tracer)
        finally:
            await pool.close()
    elif is_in_memory_sqlite(url):
        yield EngineReads(engine)
    else:
        connection = await aiosqlite.connect(url.database or "")
        try:
            for pragma in SQLITE_RULES:
                await connection.execute(pragma)
            # It reads only; a statement that would write fails rather than takes the write lock.
            await connection.execute("PRAGMA query_only=ON")
            yield SqliteReads(connection, dialect, tracer)
        finally:
            await connection.close()


async def _nothing_to_reset(_connection: asyncpg.Connection) -> None:
    return None


async def _json_as_the_engine_reads_it(connection: asyncpg.Connection) -> None:
    """JSON and JSONB decoded to Python values, as SQLAlchemy's asyncpg dialect sets its own
    connections up; a parameter of either arrives already serialized by its column's type."""
    for name in ("json", "jsonb"):
        await connection.set_type_codec(
            name, encoder=str, decoder=json.loads, schema="pg_catalog", format="text"
        )


def _sqlstate(error: BaseException) -> str | None:
    return getattr(error, "sqlstate", None)


def _dropped(error: BaseException) -> bool:
    """Whether `error` says the statement's connection was lost."""
    return isinstance(error, OSError | asyncpg.PostgresConnectionError) or (
        isinstance(error, asyncpg.InterfaceError) and "connection is closed" in str(error)
    )
