"""Rows that are only ever added, and totals only ever added to: staged, then written together.

Added to the session instead, a row is built as a mapped object, tracked, sorted into the flush
and written by the unit of work's machinery; sent one by one, each row is a round trip. So a
unit of work stages them (`add_row`, `add_to_total`) and they are written when its session
next sends anything: before any other statement or flush (so foreign keys keep their order and
reads see them), or at the commit (`write_staged`), tables in the order they were first staged.

On PostgreSQL they are one statement: each row's INSERT (or upsert) a data-modifying WITH of the
last one's, checked as one (foreign keys at its end). A unit of work that did nothing else
(`writes_alone`) sends it outside a transaction: a generation's rows, which were BEGIN, five
statements and COMMIT, are one round trip, and the month's total it adds to is locked for that
statement alone. SQLite takes a table's rows in one executemany (`write_each_table`), in the
writers' turn (write_turns); there a unit of work that did nothing else is committed with the
others waiting then, in one transaction (group_commit.py).

A duplicate key fails where the rows are written, as a Conflict: at the latest, at the commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Insert, Table, bindparam, event, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from casting.adapters.sql.conflicts import conflicts_as_domain_errors
from casting.adapters.sql.models import Base

_STAGED = "casting.staged_rows"


def table_of(model: type[Base]) -> Table:
    """The table of a mapped class, for statements the session must not take for ORM ones: an
    INSERT on the class is an ORM bulk insert, which costs more than it saves."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


@dataclass(frozen=True)
class _Total:
    """What an upsert adds to: `column` of the row keyed by `key` (the primary key's columns)."""

    table: Table
    key: tuple[str, ...]
    column: str


@dataclass
class StagedRows:
    """What a session has staged: rows by table, and additions to totals."""

    rows: dict[Table, list[dict[str, Any]]] = field(default_factory=dict)
    totals: dict[_Total, dict[tuple[Any, ...], int]] = field(default_factory=dict)

    @classmethod
    def joined(cls, parts: list[StagedRows]) -> StagedRows:
        """All of `parts` as one, each table's rows in the order of the parts, and the tables in
        the order each first comes. Parts that stage tables in other orders may then put a row
        before the one it refers to: a constraint refuses it, and they are written one by one."""
        joined = cls()
        for part in parts:
            for table, rows in part.rows.items():
                joined.rows.setdefault(table, []).extend(rows)
            for total, added in part.totals.items():
                for key, amount in added.items():
                    joined.add_to(total, key, amount)
        return joined

    def add_to(self, total: _Total, key: tuple[Any, ...], amount: int) -> None:
        """Stages adding `amount` to the row of `total` keyed by `key`. Additions to one row are
        summed: a statement may change a row once."""
        added = self.totals.setdefault(total, {})
        added[key] = added.get(key, 0) + amount

    def batches(self) -> list[tuple[Table | _Total, list[dict[str, Any]]]]:
        """Each table's rows, then each total's additions as rows (key and amount)."""
        return [
            *self.rows.items(),
            *(
                (
                    total,
                    [
                        dict(zip(total.key, key, strict=True)) | {total.column: amount}
                        for key, amount in added.items()
                    ],
                )
                for total, added in self.totals.items()
            ),
        ]


class StagingSession(Session):
    """A Session that writes the rows staged in it before anything else it sends."""


def add_row(session: AsyncSession, model: type[Base], values: Mapping[str, Any]) -> None:
    """Stages a new row of `model`'s table. Every row of a table must name the same columns."""
    _staged(session).rows.setdefault(table_of(model), []).append(dict(values))


def add_to_total(
    session: AsyncSession, model: type[Base], column: str, key: Mapping[str, Any], amount: int
) -> None:
    """Stages adding `amount` to `column` of the row keyed by `key` (its primary key), made with
    `amount` if new."""
    _staged(session).add_to(_Total(table_of(model), tuple(key), column), tuple(key.values()), amount)


def _has_staged(session: AsyncSession) -> bool:
    return _STAGED in session.info


def writes_alone(session: AsyncSession) -> bool:
    """Whether the session's staged rows are all its commit would write, so that they can be
    written without it (take_staged): it has sent nothing and holds no object to flush."""
    sync = session.sync_session
    return _has_staged(session) and not (sync.in_transaction() or sync.new or sync.dirty or sync.deleted)


def take_staged(session: AsyncSession) -> StagedRows:
    """What the session has staged, taken from it: the caller writes it."""
    staged: StagedRows = session.info.pop(_STAGED)
    return staged


def discard_staged(session: AsyncSession) -> None:
    """Forgets what the session has staged, as a rollback forgets what it sent."""
    session.info.pop(_STAGED, None)


async def write_staged(session: AsyncSession) -> None:
    """Writes what the session has staged, in its transaction."""
    if _has_staged(session):
        await session.run_sync(_write_in_session)


async def write_together(connection: AsyncConnection, staged: StagedRows) -> None:
    """Writes `staged` on `connection` (PostgreSQL, in autocommit): one statement, atomic on its
    own."""
    async with conflicts_as_domain_errors():
        await connection.execute(*_together(staged.batches()))


def write_each_table(target: Session | Connection, staged: StagedRows) -> None:
    """Writes `staged` through `target`, one executemany a table (SQLite)."""
    for batch, rows in staged.batches():
        target.execute(_each_row(batch, tuple(rows[0])), rows)


def _staged(session: AsyncSession) -> StagedRows:
    staged: StagedRows | None = session.info.get(_STAGED)
    if staged is None:
        staged = session.info[_STAGED] = StagedRows()
    return staged


def _write_in_session(session: Session) -> None:
    staged: StagedRows | None = session.info.pop(_STAGED, None)
    if staged is None:
        return
    # Not after a flush of the session's objects: those may refer to these rows.
    with conflicts_as_domain_errors(), session.no_autoflush:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(*_together(staged.batches()))
        else:
            write_each_table(session, staged)


@event.listens_for(StagingSession, "before_flush")
def _before_flush(session: Session, _flush: Any, _instances: Any) -> None:
    _write_in_session(session)


@event.listens_for(StagingSession, "do_orm_execute")
def _before_statement(state: ORMExecuteState) -> None:
    _write_in_session(state.session)


def _together(batches: list[tuple[Table | _Total, list[dict[str, Any]]]]) -> tuple[Insert, dict[str, Any]]:
    """One statement that writes every row of `batches` (PostgreSQL), and its parameters."""
    shape = tuple((target, len(rows), tuple(rows[0])) for target, rows in batches)
    parameters = {
        f"p{part}_{index}_{name}": value
        for part, (_, rows) in enumerate(batches)
        for index, row in enumerate(rows)
        for name, value in row.items()
    }
    return _statement_of(shape), parameters


@lru_cache(maxsize=256)
def _statement_of(shape: tuple[tuple[Table | _Total, int, tuple[str, ...]], ...]) -> Insert:
    """The statement for batches of `shape` (target, rows, columns): each row's INSERT a WITH of
    the last one's, its parameters named p<batch>_<row>_<column>. Built once per shape; a
    single-row VALUES, unlike a multi-row one, lets SQLAlchemy cache the compiled statement."""
    inserts = [
        _one_row(target, "postgresql", {name: f"p{part}_{index}_{name}" for name in columns})
        for part, (target, count, columns) in enumerate(shape)
        for index in range(count)
    ]
    *earlier, last = inserts
    return last.add_cte(*(statement.cte(f"w{n}") for n, statement in enumerate(earlier))) if earlier else last


@lru_cache(maxsize=64)
def _each_row(target: Table | _Total, columns: tuple[str, ...]) -> Insert:
    """SQLite's INSERT (or upsert) of one row of `columns` into `target`, its parameters named
    after the columns: executed with many rows, one trip."""
    return _one_row(target, "sqlite", {column: column for column in columns})


def _one_row(target: Table | _Total, dialect: str, names: dict[str, str]) -> Insert:
    """The INSERT of one row into `target` (or the upsert that adds to it), each column's
    parameter named as `names` says."""
    table = target.table if isinstance(target, _Total) else target
    values = {column: bindparam(name, type_=table.c[column].type) for column, name in names.items()}
    if isinstance(target, _Total):
        return upsert_adding(table, target.key, target.column, values, dialect)
    return insert(table).values(values)


def upsert_adding(
    table: Table, key: tuple[str, ...], column: str, values: dict[str, Any], dialect: str
) -> Insert:
    """INSERT of a row of `values` that, if its key is there, adds its `column` to the stored one."""
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    upsert = dialect_insert(table).values(values)
    return upsert.on_conflict_do_update(
        index_elements=[table.c[name] for name in key],
        set_={column: table.c[column] + upsert.excluded[column]},
    )
