"""aiosqlite, through its public API only, with as few trips to its thread as it allows.

aiosqlite runs every sqlite3 call on the connection's own thread, and SQLAlchemy's adapter asks
for a statement in four calls: open a cursor, execute, fetch, close. Each is a round trip between
the event loop and that thread (~0.1 ms, more under load): a GetActor took 22 of them, a
GenerateSheet 17, and in a burst of writes each SQLite writer held the write turn through all of
its own. Here every statement runs on one cursor kept for the connection's life, so opening and
closing cost nothing: a write is one trip, and so is a SELECT whose columns this connection has
seen before (`execute_fetchall`, which answers rows but not their columns); a SELECT seen for the
first time takes two. A rollback with no transaction open (the end of every read) takes none.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from functools import partial
from typing import Any, Self

import aiosqlite

# Distinct SELECTs a connection remembers the columns of: the service's statements, one per
# length of each IN list, number in the hundreds.
_KNOWN_SELECTS = 1024


def connect(database: str, **kwargs: Any) -> OneTripConnection:
    """SQLAlchemy's `async_creator_fn` for the aiosqlite dialect: it is handed the arguments the
    dialect would give aiosqlite.connect."""
    return OneTripConnection(partial(sqlite3.connect, database, **kwargs), iter_chunk_size=64)


class OneTripConnection(aiosqlite.Connection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._statements: aiosqlite.Cursor | None = None
        # A SELECT's columns follow from its text (SQLAlchemy names every column, never `*`).
        self._select_columns: dict[str, Any] = {}

    def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)

    async def rollback(self) -> None:
        # sqlite3 begins a transaction before the first write, not for a read: after reads alone
        # there is nothing to roll back, and a trip (which every pooled read ends with) is saved.
        if self.in_transaction:
            await super().rollback()

    async def statement_cursor(self) -> aiosqlite.Cursor:
        """The one cursor every statement of this connection runs on."""
        if self._statements is None:
            self._statements = await super().cursor()
        return self._statements

    def known_columns(self, sql: str) -> Any:
        return self._select_columns.get(sql)

    def learn_columns(self, sql: str, description: Any) -> None:
        if description and _is_plain_select(sql):
            if len(self._select_columns) >= _KNOWN_SELECTS:
                self._select_columns.clear()
            self._select_columns[sql] = description


class OneTripCursor:
    """The part of aiosqlite's cursor that SQLAlchemy uses; rows come back with the execute."""

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
        connection = self._connection
        if (columns := connection.known_columns(sql)) is not None:
            self._rows = list(await connection.execute_fetchall(sql, parameters))
            self.description, self.rowcount, self.lastrowid = columns, -1, None
            return self
        cursor = await connection.statement_cursor()
        await cursor.execute(sql, parameters)
        self._take(cursor, await cursor.fetchall() if cursor.description else [])
        connection.learn_columns(sql, cursor.description)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any] | dict[str, Any]]) -> Self:
        cursor = await self._connection.statement_cursor()
        await cursor.executemany(sql, parameters)
        self._take(cursor, await cursor.fetchall() if cursor.description else [])
        return self

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

    def _take(self, cursor: aiosqlite.Cursor, rows: Iterable[Any]) -> None:
        self.description, self.rowcount = cursor.description, cursor.rowcount
        self.lastrowid, self._rows = cursor.lastrowid, list(rows)


def _is_plain_select(sql: str) -> bool:
    """A statement whose columns its text alone decides: a SELECT not of `*`."""
    return sql.lstrip()[:6].upper() == "SELECT" and "*" not in sql
