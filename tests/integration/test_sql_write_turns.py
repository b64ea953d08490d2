"""SQLite writers take turns in process (adapters/sql/write_turns.py), and a turn never sticks."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from casting.adapters.sql import write_turns
from casting.adapters.sql.engine import create_engine, create_session_factory
from casting.adapters.sql.unit_of_work import SqlUnitOfWork
from casting.domain.errors import Conflict
from casting.domain.model import Sheet
from tests.integration.conftest import PROJECT, Library
from tests.integration.test_sql_records import a_sheet


@pytest_asyncio.fixture
async def sqlite(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    path = tmp_path / "casting.db"
    shutil.copyfile(sqlite_template, path)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    yield engine
    await engine.dispose()


async def store(uow: SqlUnitOfWork, sheet: Sheet) -> None:
    async with uow:
        await uow.images.add(sheet.image)
        await uow.sheets.add(sheet)
        await uow.commit()


async def test_concurrent_writers_all_commit(sqlite: AsyncEngine) -> None:
    factory = create_session_factory(sqlite)
    library = Library(lambda: SqlUnitOfWork(factory))
    sheets = [a_sheet(library) for _ in range(40)]

    await asyncio.gather(*(store(library.uow(), sheet) for sheet in sheets))

    async with library.uow() as uow:
        for sheet in sheets:
            assert await uow.sheets.get(PROJECT, sheet.id) == sheet


async def test_a_failed_write_hands_the_turn_on(sqlite: AsyncEngine) -> None:
    info = write_turns.write_turns()
    factory = async_sessionmaker(sqlite, sync_session_class=write_turns.TurnTakingSession, info=info)
    library = Library(lambda: SqlUnitOfWork(factory))
    (turns,) = info.values()
    first = a_sheet(library)
    await store(library.uow(), first)

    with pytest.raises(Conflict):
        await store(library.uow(), first)  # the same rows again: refused at commit

    # A turn left held would keep the next writer waiting for WAIT_SECONDS, then let it go ahead.
    assert not turns.lock.locked()
    await store(library.uow(), a_sheet(library))
    assert not turns.lock.locked()


async def test_a_writer_that_waits_in_vain_goes_ahead(sqlite: AsyncEngine) -> None:
    info = write_turns.write_turns(wait_seconds=0.05)
    factory = async_sessionmaker(sqlite, sync_session_class=write_turns.TurnTakingSession, info=info)
    library = Library(lambda: SqlUnitOfWork(factory))
    (turns,) = info.values()
    await turns.lock.acquire()  # a holder that never lets go

    sheet = a_sheet(library)
    await store(library.uow(), sheet)

    async with library.uow() as uow:
        assert await uow.sheets.get(PROJECT, sheet.id) == sheet
