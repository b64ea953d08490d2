"""aiosqlite with one trip to its thread per statement.

aiosqlite runs every sqlite3 call on the connection's own thread, and SQLAlchemy asks for a
statement in four calls: open a cursor, execute, fetch, close. Each is a round trip between
the event loop and that thread (~0.1 ms, more under load): a GetActor took 22 of them, a
GenerateSheet 17, and in a burst of writes each SQLite writer held the write turn through all
of its own. Here a cursor does the whole statement in one trip and answers the rest from
what that trip brought back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from functools import partial
from typing import Any, Self

import aiosqlite

# What one statement leaves behind: description, rowcount, lastrowid, rows.
_Outcome = tuple[Any, int, int | None, list[Any]]


def connect(database: str, **kwargs: Any) -> OneTripConnection:
    """SQLAlchemy's `async_creator_fn` for the aiosqlite dialect: it is handed the arguments the
    dialect would give aiosqlite.connect."""
    connection = OneTripConnection(partial(sqlite3.connect, database, **kwargs), iter_chunk_size=64)
    connection._thread.daemon = True  # as SQLAlchemy sets aiosqlite's own: exit never waits on it
    return connection


class OneTripConnection(aiosqlite.Connection):
    def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)


class OneTripCursor:
    """The part of aiosqlite's cursor that SQLAlchemy uses, one trip per execute."""

    arraysize = 1

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> Self:
        return await self._statement(sql, parameters, many=False)

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any] | dict[str, Any]]) -> Self:
        return await self._statement(sql, parameters, many=True)

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = size or self.arraysize
        taken, self._rows = self._rows[:count], self._rows[count:]
        return taken

    async def fetchall(self) -> list[Any]:
        taken, self._rows = self._rows, []
        return taken

    async def __aiter__(self) -> AsyncIterator[Any]:
        while self._rows:
            yield self._rows.pop(0)

    async def close(self) -> None:
        self._rows = []

    async def _statement(self, sql: str, parameters: Any, many: bool) -> Self:
        connection = self._connection
        outcome = await connection._execute(_run, connection._conn, sql, parameters, many)
        self.description, self.rowcount, self.lastrowid, self._rows = outcome
        return self


def _run(connection: sqlite3.Connection, sql: str, parameters: Any, many: bool) -> _Outcome:
    """The whole statement, on the connection's thread: execute it (over every parameter set
    when `many`), fetch what it answered, close the cursor."""
    cursor = connection.cursor()
    try:
        (cursor.executemany if many else cursor.execute)(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()
