"""Engines and session factories for the embedded (SQLite) and production (PostgreSQL) databases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, event, make_url
from sqlalchemy import create_engine as _create_sync_engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from casting.adapters.sql import sqlite_driver
from casting.adapters.sql.disconnects import drop_closed_on_checkout
from casting.adapters.sql.rows import StagingSession
from casting.adapters.sql.write_turns import TurnTakingSession, WriteTurns, taking

DEFAULT_URL = "sqlite+aiosqlite:///./var/casting.db"

# Every SQLite connection's, set as it opens.
SQLITE_RULES = (
    # SQLite leaves foreign keys off per connection unless asked.
    "PRAGMA foreign_keys=ON",
    # LIKE is case-insensitive on SQLite and case-sensitive on PostgreSQL; a display-name
    # prefix must match the same rows on both.
    "PRAGMA case_sensitive_like=ON",
    # Readers neither wait for a writer nor hold one up, and a commit costs one fsync, not
    # several. (The database is then the file plus its -wal and -shm: back it up with .backup.)
    "PRAGMA journal_mode=WAL",
)


def create_engine(
    url: str,
    *,
    pool_size: int = 5,
    pool_timeout: float = 30.0,
    max_overflow: int = 10,
    connect_timeout: float = 10.0,
    statement_timeout: float = 30.0,
    application_name: str = "casting",
    echo: bool = False,
) -> AsyncEngine:
    """An engine for `url` (sqlite+aiosqlite or postgresql+asyncpg).

    Pool settings apply to every pooled database; an in-memory SQLite database lives in one
    connection instead. On PostgreSQL, `connect_timeout` bounds opening a connection and
    `statement_timeout` (0: none) makes the server cancel a statement that runs or waits on a
    lock longer, so a stuck query cannot hold a pooled connection forever; `application_name`
    names its connections in pg_stat_activity."""
    parsed = make_url(url)
    options: dict[str, Any] = {"echo": echo}
    if not is_in_memory_sqlite(parsed):
        options.update(pool_size=pool_size, pool_timeout=pool_timeout, max_overflow=max_overflow)
    if parsed.get_backend_name() == "postgresql":
        statement_ms = str(round(statement_timeout * 1000))
        options.update(
            connect_args={
                "timeout": connect_timeout,
                "server_settings": {"statement_timeout": statement_ms, "application_name": application_name},
            },
        )
    if parsed.get_backend_name() == "sqlite":
        options.update(connect_args={"async_creator_fn": sqlite_driver.connect})
    ensure_sqlite_directory(parsed)
    engine = _create_async_engine(parsed, **options)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_rules)
    else:
        # Not pool_pre_ping: a trip on every checkout (disconnects.py says what replaces it).
        drop_closed_on_checkout(engine)
    return engine


def create_sqlite_writer(url: str | URL) -> Engine:
    """A synchronous engine (the standard library's sqlite3) on the SQLite file of `url`, for
    writes made on a thread of their own (group_commit.py). Its transactions begin IMMEDIATE, so
    they take the write lock at once, and may hold savepoints: sqlite3 is left in autocommit and
    SQLAlchemy sends BEGIN itself, as SQLAlchemy's documentation of pysqlite recommends."""
    engine = _create_sync_engine(make_url(url).set(drivername="sqlite+pysqlite"), pool_size=1)
    event.listen(engine, "connect", _sqlite_writer_rules)
    event.listen(engine, "begin", _begin_immediate)
    return engine


def create_session_factory(
    engine: AsyncEngine, turns: WriteTurns | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions on `engine`; on SQLite they take the writers' `turns` (a new one if not given)."""
    # Domain objects are built before commit; nothing should reload rows after it.
    if engine.dialect.name == "sqlite":
        info = taking(turns or WriteTurns())
        return async_sessionmaker(
            engine, expire_on_commit=False, sync_session_class=TurnTakingSession, info=info
        )
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=StagingSession)


def for_reads(engine: AsyncEngine) -> AsyncEngine:
    """`engine` for reads of one statement, which need no transaction around them: on PostgreSQL
    in autocommit, saving BEGIN and ROLLBACK, two round trips (SQLite's driver sends neither)."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


def is_postgresql(url: str) -> bool:
    """Whether the database URL names PostgreSQL (else it is SQLite)."""
    return make_url(url).get_backend_name() == "postgresql"


def is_in_memory_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and (
        url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"
    )


def ensure_sqlite_directory(url: URL) -> None:
    """Creates the directory of a SQLite file, which SQLite will not do itself."""
    if url.get_backend_name() == "sqlite" and not is_in_memory_sqlite(url) and url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_writer_rules(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    _sqlite_rules(dbapi_connection, record)
    dbapi_connection.isolation_level = None  # no BEGIN of sqlite3's own


def _begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_rules(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_RULES:
        cursor.execute(pragma)
    cursor.close()
