"""The one-trip SQLite driver (adapters/sql/sqlite_driver.py) through SQLAlchemy: what the
repositories do not exercise, answered as SQLite itself answers it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from casting.adapters.sql.engine import create_engine


@pytest_asyncio.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT UNIQUE)"))
    yield engine
    await engine.dispose()


async def test_many_rows_in_one_statement_report_their_count(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        inserted = await connection.execute(
            text("INSERT INTO notes (body) VALUES (:body)"), [{"body": f"note {n}"} for n in range(5)]
        )
        assert inserted.rowcount == 5
        updated = await connection.execute(text("UPDATE notes SET body = body || '!' WHERE id > 2"))
        assert updated.rowcount == 3


async def test_rows_come_back_whole_in_parts_or_not_at_all(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO notes (body) VALUES ('a'), ('b'), ('c')"))
        result = await connection.execute(text("SELECT body FROM notes ORDER BY id"))
        assert result.fetchmany(2) == [("a",), ("b",)]
        assert result.fetchone() == ("c",)
        assert result.fetchone() is None
        returned = await connection.execute(text("INSERT INTO notes (body) VALUES ('d') RETURNING id, body"))
        assert returned.one() == (4, "d")
        assert (await connection.execute(text("SELECT body FROM notes WHERE id = 99"))).all() == []


async def test_sqlite_errors_surface_as_sqlalchemys(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("INSERT INTO notes (body) VALUES ('same')"))
        with pytest.raises(IntegrityError):
            await connection.execute(text("INSERT INTO notes (body) VALUES ('same')"))
        with pytest.raises(OperationalError):
            await connection.execute(text("SELECT nothing FROM nowhere"))


async def test_a_rolled_back_write_is_gone(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("INSERT INTO notes (body) VALUES ('draft')"))
        await connection.rollback()
        assert (await connection.execute(text("SELECT count(*) FROM notes"))).scalar() == 0


async def test_a_select_run_again_answers_its_columns_with_its_rows(engine: AsyncEngine) -> None:
    # The second run of a SELECT takes the path that remembers its columns from the first.
    query = text("SELECT id, body FROM notes WHERE body LIKE :pattern ORDER BY id")
    async with engine.begin() as connection:
        first = await connection.execute(query, {"pattern": "n%"})
        assert (list(first.keys()), first.all()) == (["id", "body"], [])
        await connection.execute(text("INSERT INTO notes (body) VALUES ('note'), ('nib'), ('other')"))
        again = await connection.execute(query, {"pattern": "n%"})
        assert (list(again.keys()), again.all()) == (["id", "body"], [(1, "note"), (2, "nib")])
        updated = await connection.execute(text("UPDATE notes SET body = 'x' WHERE body = 'nib'"))
        assert updated.rowcount == 1
        assert (await connection.execute(query, {"pattern": "n%"})).all() == [(1, "note")]


async def test_a_rollback_after_reads_leaves_earlier_commits_and_undoes_later_writes(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("INSERT INTO notes (body) VALUES ('kept')"))
        await connection.commit()
        await connection.execute(text("SELECT body FROM notes"))
        await connection.rollback()  # reads only: no transaction to roll back
        await connection.execute(text("INSERT INTO notes (body) VALUES ('undone')"))
        await connection.rollback()
        assert (await connection.execute(text("SELECT body FROM notes"))).scalars().all() == ["kept"]
