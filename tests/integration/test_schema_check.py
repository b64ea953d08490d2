"""`casting serve` refuses a shared database that lacks migrations: which revisions count."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from casting.adapters.sql.migrate import alembic_config, lacks_migrations

SCRIPTS = ScriptDirectory.from_config(alembic_config())


async def stamp(engine: AsyncEngine, revision: str | None) -> None:
    """Records `revision` as the database's (None: never migrated), as alembic would."""
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM alembic_version"))
        if revision is not None:
            await connection.execute(text("INSERT INTO alembic_version VALUES (:rev)"), {"rev": revision})


@pytest.mark.parametrize(
    ("revision", "lacking"),
    [
        pytest.param(SCRIPTS.get_current_head(), False, id="at-head"),
        pytest.param(SCRIPTS.get_base(), SCRIPTS.get_base() != SCRIPTS.get_current_head(), id="at-base"),
        pytest.param(None, True, id="never-migrated"),
        # A newer release's revision: its migrations keep the schema readable by this release.
        pytest.param("f00dfeedbeef", False, id="newer-release"),
    ],
)
async def test_a_database_lacks_migrations_only_when_behind_head(
    engine: AsyncEngine, database_url: str, revision: str | None, lacking: bool
) -> None:
    await stamp(engine, revision)

    assert await lacks_migrations(database_url) is lacking
