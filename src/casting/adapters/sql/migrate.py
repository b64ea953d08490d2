"""Schema migrations, run from code: the server brings its database to head on start.

The alembic scripts live at the repository root (alembic.ini, migrations/), beside `src/`;
they are found by walking up from this file, so the working directory does not matter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from casting.adapters.sql.engine import ensure_sqlite_directory
from casting.adapters.tasks import procrastinate_engine

_Migration = Callable[[Config], None]


async def upgrade_to_head(url: str, *, connect_timeout: float | None = None) -> None:
    """Applies every migration the database at `url` lacks; on PostgreSQL, also the task
    engine's schema (procrastinate's own, kept apart from alembic's). `connect_timeout` bounds
    opening PostgreSQL's connection (None: the driver's own, 60 s)."""
    await _run(url, lambda config: command.upgrade(config, "head"), connect_timeout)
    if make_url(url).get_backend_name() == "postgresql":
        await procrastinate_engine.apply_schema(url)


def is_task_engine_table(name: str) -> bool:
    """A table of procrastinate's schema, which alembic neither makes nor compares."""
    return name.startswith("procrastinate_")


async def downgrade_to_base(url: str) -> None:
    """Reverts every migration: the database is left without the service's tables."""
    await _run(url, lambda config: command.downgrade(config, "base"), None)


async def lacks_migrations(url: str, *, connect_timeout: float | None = None) -> bool:
    """True when the database at `url` lacks a migration this code needs: it was never
    migrated, or it stands at an older revision. A revision this code does not know is a
    newer release's, whose migrations keep the schema readable by the release before."""
    async with _connected(make_url(url), connect_timeout) as connection:
        current = await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_heads())
    script = ScriptDirectory.from_config(alembic_config())
    if not current:
        return True
    if script.get_current_head() in current:
        return False
    try:
        for revision in current:
            script.get_revision(revision)
    except CommandError:
        return False
    return True


class DatabaseOutOfReach(RuntimeError):
    """No connection could be made to the database: refused, an unknown host, a wrong
    password, no such database, no answer in time, an SQLite file that cannot be made."""

    def __init__(self, url: URL, error: OSError | DBAPIError) -> None:
        cause = error.orig if isinstance(error, DBAPIError) else error
        reason = (
            "no answer in time" if isinstance(cause, TimeoutError) else str(cause) or type(cause).__name__
        )
        super().__init__(f"the database {url.render_as_string(hide_password=True)} is out of reach: {reason}")


class MissingMigrations(RuntimeError):
    """A shared database behind this release's schema: `casting migrate` must run first."""


async def prepare(url: str, *, connect_timeout: float | None = None) -> None:
    """Readies the database at `url` for the service. The embedded SQLite database is the
    service's own and is migrated here; a shared one is migrated deliberately, once per release
    (`casting migrate`), so one that lacks migrations is refused rather than served, where
    every call would fail."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        await upgrade_to_head(url)
    elif await lacks_migrations(url, connect_timeout=connect_timeout):
        raise MissingMigrations(
            f"the database {parsed.render_as_string(hide_password=True)} lacks migrations "
            "this release needs; run `casting migrate` (make migrate) first"
        )


def alembic_config() -> Config:
    """The repository's alembic configuration, with an absolute script location."""
    root = _repository_root()
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "migrations"))
    return config


def _repository_root() -> Path:
    here = Path(__file__).resolve()
    for directory in here.parents:
        if (directory / "alembic.ini").is_file() and (directory / "migrations" / "env.py").is_file():
            return directory
    raise RuntimeError(
        f"no alembic.ini with a migrations/ directory above {here}; the migrations ship with "
        "the source tree, so run from a checkout or an editable install"
    )


async def _run(url: str, migrate: _Migration, connect_timeout: float | None) -> None:
    async with _connected(make_url(url), connect_timeout) as connection, connection.begin():
        await connection.run_sync(_on_connection, migrate)


@asynccontextmanager
async def _connected(url: URL, connect_timeout: float | None) -> AsyncIterator[AsyncConnection]:
    """A connection of an engine of its own; DatabaseOutOfReach when none can be made (what
    fails once it is made is the caller's to hear)."""
    timeout = (
        {"timeout": connect_timeout} if connect_timeout and url.get_backend_name() == "postgresql" else {}
    )
    engine = create_async_engine(url, poolclass=NullPool, connect_args=timeout)
    try:
        try:
            ensure_sqlite_directory(url)
            connection = await engine.connect()
        except (OSError, DBAPIError) as error:
            raise DatabaseOutOfReach(url, error) from error
        try:
            yield connection
        finally:
            await connection.close()
    finally:
        await engine.dispose()


def _on_connection(connection: Connection, migrate: _Migration) -> None:
    config = alembic_config()
    # env.py migrates on this connection (instead of opening its own event loop and engine)
    # and leaves the caller's logging alone.
    config.attributes["connection"] = connection
    migrate(config)
