"""The migrations: reversible, and at head exactly the schema the models describe."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from casting.adapters.sql.engine import create_engine
from casting.adapters.sql.migrate import downgrade_to_base, is_task_engine_table, upgrade_to_head
from casting.adapters.sql.models import Base

TABLES = {
    "characters",
    "character_variants",
    "character_reference_images",
    "images",
    "variant_images",
    "sheets",
    "idempotency_keys",
    "story_casts",
    "thumbnails",
    "casting_operations",
    "casting_role_outcomes",
    "project_spending",
    "ledger",
}


def _schema(connection: Connection) -> tuple[set[str], list[Any]]:
    """The service's tables, and alembic's differences between the database and the models."""
    tables = {t for t in inspect(connection).get_table_names() if not is_task_engine_table(t)}
    context = MigrationContext.configure(connection, opts={"include_name": alembic_owns})
    return tables - {"alembic_version"}, compare_metadata(context, Base.metadata)


def alembic_owns(name: str | None, type_: str, parent_names: object) -> bool:
    return not (type_ == "table" and name is not None and is_task_engine_table(name))


async def schema_of(url: str) -> tuple[set[str], list[Any]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_schema)
    finally:
        await engine.dispose()


async def test_head_matches_the_models(database_url: str) -> None:
    tables, differences = await schema_of(database_url)

    assert tables == TABLES
    assert differences == []


async def test_migrations_go_down_to_base_and_back_up(database_url: str) -> None:
    await downgrade_to_base(database_url)
    tables, _ = await schema_of(database_url)
    assert tables == set()

    await upgrade_to_head(database_url)
    await upgrade_to_head(database_url)  # already at head: nothing to do

    assert await schema_of(database_url) == (TABLES, [])
