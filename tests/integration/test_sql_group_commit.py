"""On a SQLite file, units of work that only add rows are committed together (group_commit.py)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import Connection, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from casting.adapters.sql.engine import create_engine, create_session_factory, create_sqlite_writer
from casting.adapters.sql.group_commit import GroupCommit
from casting.adapters.sql.rows import StagedRows
from casting.adapters.sql.unit_of_work import SqlUnitOfWork
from casting.adapters.sql.write_turns import WriteTurns
from casting.domain.errors import Conflict
from casting.domain.model import Sheet
from tests.integration.conftest import PROJECT, Library
from tests.integration.test_sql_records import a_sheet


class HandOverCount(GroupCommit):
    """A GroupCommit that tells when `expected` units have been handed to it."""

    def __init__(self, url: str, turns: WriteTurns, expected: int) -> None:
        self.writer = create_sqlite_writer(url)
        super().__init__(self.writer, turns)
        self._expected = expected
        self.all_handed_over = asyncio.Event()
        self.commits = 0
        event.listen(self.writer, "commit", self._committed)

    async def commit(self, rows: StagedRows) -> None:
        self._expected -= 1
        if self._expected == 0:
            self.all_handed_over.set()
        await super().commit(rows)

    def _committed(self, _connection: Connection) -> None:
        self.commits += 1


@dataclass
class Database:
    url: str
    engine: AsyncEngine
    turns: WriteTurns

    def library(self, group: GroupCommit) -> Library:
        factory = create_session_factory(self.engine, self.turns)
        return Library(lambda: SqlUnitOfWork(factory, group=group))

    def group(self, expected: int) -> HandOverCount:
        return HandOverCount(self.url, self.turns, expected)


@pytest_asyncio.fixture
async def database(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    path = tmp_path / "casting.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite+aiosqlite:///{path}"
    engine = create_engine(url)
    yield Database(url, engine, WriteTurns())
    await engine.dispose()


async def store(library: Library, sheet: Sheet) -> None:
    async with library.uow() as uow:
        await uow.images.add(sheet.image)
        await uow.sheets.add(sheet)
        await uow.commit()


async def stored(library: Library, sheet: Sheet) -> bool:
    async with library.uow() as uow:
        return await uow.sheets.get(PROJECT, sheet.id) == sheet


async def while_the_turn_is_held(database: Database, group: HandOverCount) -> None:
    """Lets the units be handed over while another writer holds the turn, then lets go."""
    await database.turns.lock.acquire()
    try:
        await group.all_handed_over.wait()
    finally:
        database.turns.lock.release()


async def test_units_waiting_at_once_are_one_commit(database: Database) -> None:
    group = database.group(expected=20)
    library = database.library(group)
    sheets = [a_sheet(library) for _ in range(20)]

    stores = [asyncio.create_task(store(library, sheet)) for sheet in sheets]
    await while_the_turn_is_held(database, group)
    await asyncio.gather(*stores)

    assert all([await stored(library, sheet) for sheet in sheets])
    # All in one transaction, or two if the writer took the first unit before the others came.
    assert group.commits <= 2
    await group.close()


async def test_a_refused_unit_fails_alone(database: Database) -> None:
    group = database.group(expected=4)
    library = database.library(group)
    first, second, third = (a_sheet(library) for _ in range(3))
    await store(library, first)

    stores = [asyncio.create_task(store(library, sheet)) for sheet in (second, first, third)]
    await while_the_turn_is_held(database, group)
    outcomes = await asyncio.gather(*stores, return_exceptions=True)

    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], Conflict)  # the same rows again
    assert await stored(library, second) and await stored(library, third) and await stored(library, first)
    with pytest.raises(Conflict):
        await store(library, second)  # alone this time
    await group.close()


async def test_a_transaction_that_fails_fails_every_unit_in_it_and_stores_none(database: Database) -> None:
    group = database.group(expected=3)
    library = database.library(group)
    async with database.engine.begin() as connection:
        await connection.execute(text("DROP TABLE sheets"))  # every unit's sheet row now fails
    sheets = [a_sheet(library) for _ in range(3)]

    stores = [asyncio.create_task(store(library, sheet)) for sheet in sheets]
    await while_the_turn_is_held(database, group)
    outcomes = await asyncio.gather(*stores, return_exceptions=True)

    assert all(isinstance(outcome, OperationalError) for outcome in outcomes)
    async with library.uow() as uow:
        assert [await uow.images.get(PROJECT, sheet.image.id) for sheet in sheets] == [None] * 3
        # The group goes on with the next unit.
        image = library.image()
        await uow.images.add(image)
        await uow.commit()
    async with library.uow() as uow:
        assert await uow.images.get(PROJECT, image.id) == image
    await group.close()


async def test_a_caller_that_stops_waiting_leaves_the_others_be(database: Database) -> None:
    group = database.group(expected=3)
    library = database.library(group)
    sheets = [a_sheet(library) for _ in range(3)]

    stores = [asyncio.create_task(store(library, sheet)) for sheet in sheets]
    await database.turns.lock.acquire()
    await group.all_handed_over.wait()
    stores[1].cancel()
    database.turns.lock.release()

    with pytest.raises(asyncio.CancelledError):
        await stores[1]
    await asyncio.gather(stores[0], stores[2])
    assert await stored(library, sheets[0]) and await stored(library, sheets[2])
    await group.close()
