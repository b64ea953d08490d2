"""SQLite: units of work that only add rows are committed together, one transaction for all.

SQLite writes one transaction at a time, and each commit waits for an fsync of its log. A unit
of work's statements run on aiosqlite's thread, one turn of the event loop each, and the
writers' turn (write_turns.py) is handed on by the loop too; in a burst of generations every
turn of the loop is slow, so the commits queued behind one another until the burst's answers
had all been read (bench/README.md). Here a unit of work that only adds rows (a generation's
image, sheet, request id and charge: rows.writes_alone) hands them over, and one thread writes
every unit waiting at that moment in one transaction, each table's rows in one statement, and
commits once.

When a constraint refuses those rows (a reused request id), the units are written again one
by one, each in a savepoint, and only the one refused fails; any other failure, the commit's
included, fails every unit of the transaction, none of which is then stored. A caller that
stops waiting may still have its rows committed, as when it leaves during any commit. A unit
written alone has its statements traced under its caller's span; statements shared by several
belong to no caller's trace.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry import context
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from casting.adapters.sql.rows import StagedRows, write_each_table
from casting.adapters.sql.write_turns import WriteTurns


@dataclass(frozen=True)
class _Unit:
    rows: StagedRows
    trace: context.Context  # the caller's, so that its statements' spans are the caller's
    written: asyncio.Future[None]


class GroupCommit:
    """Commits staged rows on `engine` (engine.create_sqlite_writer), on a thread of its own, in
    the writers' `turns` that the service's sessions take."""

    def __init__(self, engine: Engine, turns: WriteTurns) -> None:
        self._engine = engine
        self._turns = turns
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="casting-commit")
        self._waiting: list[_Unit] = []
        self._writer: asyncio.Task[None] | None = None

    async def commit(self, rows: StagedRows) -> None:
        """Writes and commits `rows` with the units waiting now; raises what failed them."""
        unit = _Unit(rows, context.get_current(), asyncio.get_running_loop().create_future())
        self._waiting.append(unit)
        if self._writer is None or self._writer.done():
            # In a context of its own, not the first caller's (its trace, its log fields).
            self._writer = asyncio.create_task(self._write_waiting(), context=contextvars.Context())
        await unit.written

    async def close(self) -> None:
        """Waits for the units handed over; then lets go of the thread and the connection."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)  # its units have its error
        self._thread.shutdown()
        self._engine.dispose()

    async def _write_waiting(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            units, self._waiting = self._waiting, []
            try:
                async with self._turns.held():
                    failures = await loop.run_in_executor(self._thread, self._write, units)
            except BaseException as error:
                for unit in units:
                    _settle(unit, error)
                if not isinstance(error, Exception):
                    raise
            else:
                for unit, failure in zip(units, failures, strict=True):
                    _settle(unit, failure)

    def _write(self, units: list[_Unit]) -> list[IntegrityError | None]:
        with self._engine.begin() as connection:
            if len(units) == 1:  # alone, its refusal is the transaction's
                with _traced(units[0]):
                    write_each_table(connection, units[0].rows)
                return [None]
            try:
                # A table's rows from every unit in one statement, as long as none is refused.
                with connection.begin_nested():
                    write_each_table(connection, StagedRows.joined([unit.rows for unit in units]))
                return [None] * len(units)
            except IntegrityError:
                pass  # one at least is refused: each in turn, to tell which
            return [_write_alone(connection, unit) for unit in units]


def _write_alone(connection: Connection, unit: _Unit) -> IntegrityError | None:
    try:
        with _traced(unit), connection.begin_nested():
            write_each_table(connection, unit.rows)
    except IntegrityError as refused:
        return refused
    return None


@contextmanager
def _traced(unit: _Unit) -> Iterator[None]:
    """The unit's statements traced under its caller's span."""
    token = context.attach(unit.trace)
    try:
        yield
    finally:
        context.detach(token)


def _settle(unit: _Unit, failure: BaseException | None) -> None:
    if unit.written.done():  # its caller stopped waiting
        return
    if failure is None:
        unit.written.set_result(None)
    elif isinstance(failure, asyncio.CancelledError):
        unit.written.cancel()
    else:
        unit.written.set_exception(failure)
