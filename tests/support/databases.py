"""Pytest plugin: real databases for tests, migrated to head, fresh for every test.

`database_url` runs a test once on a SQLite file and once on PostgreSQL. PostgreSQL is a
throwaway cluster of the machine's PostgreSQL 15, started once per session (initdb/pg_ctl,
as a non-root user, on a free port, fsync off) and removed after. Each test gets a copy of
a database migrated once per session, which costs milliseconds instead of a migration run.

Without PostgreSQL the PostgreSQL half is skipped, except under CI=true, where it fails.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from casting.adapters.sql.engine import create_engine, create_session_factory
from casting.adapters.sql.migrate import upgrade_to_head
from casting.adapters.sql.unit_of_work import SqlUnitOfWork
from tests.support.ports import free_port

POSTGRES_MAJOR = "15"
TEMPLATE_DATABASE = "casting_template"
SUPERUSER = "postgres"
# PostgreSQL refuses to run as root; this system user runs it instead.
SERVICE_USER = "postgres"


class PostgresUnavailable(Exception):
    """The throwaway cluster could not be started; the message says why."""


@dataclass(frozen=True, slots=True)
class PostgresCluster:
    directory: Path
    bin_dir: Path
    port: int
    as_user: tuple[str, ...]  # the command prefix that runs a program as the cluster's owner

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def execute(self, *statements: str) -> None:
        """Runs administrative statements (CREATE/DROP DATABASE) outside any test's loop."""
        asyncio.run(self._execute(statements))

    async def _execute(self, statements: tuple[str, ...]) -> None:
        connection = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, database="postgres"
        )
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    def restart(self) -> None:
        """Restarts the server as an operator would (its settings kept), ending every session."""
        _run([*self._pg_ctl, "-l", str(self.directory / "server.log"), "-m", "fast", "-w", "restart"])

    def stop(self) -> None:
        _run([*self._pg_ctl, "-m", "immediate", "-w", "stop"], check=False)
        shutil.rmtree(self.directory, ignore_errors=True)

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def _pg_ctl(self) -> tuple[str, ...]:
        return (*self.as_user, str(self.bin_dir / "pg_ctl"), "-D", str(self.data))


def start_postgres() -> PostgresCluster:
    """initdb and start a cluster in a new temporary directory; PostgresUnavailable if not."""
    bin_dir = _postgres_bin_dir()
    as_user = _run_as_prefix()
    directory = Path(tempfile.mkdtemp(prefix="casting-pg-"))
    try:
        if as_user:
            owner = pwd.getpwnam(SERVICE_USER)
            os.chown(directory, owner.pw_uid, owner.pw_gid)
        data = directory / "data"
        _run(
            [
                *as_user,
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
                "--no-instructions",
            ]
        )
        # A port is free when we look and may be taken when the server binds: try again.
        for _attempt in range(3):
            port = free_port()
            settings = (
                f"-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={directory}"
                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            started = _run(
                [
                    *as_user,
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(directory / "server.log"),
                    "-o",
                    settings,
                    "-w",
                    "-t",
                    "30",
                    "start",
                ],
                check=False,
            )
            if started.returncode == 0:
                return PostgresCluster(directory, bin_dir, port, as_user)
        log = (directory / "server.log").read_text(errors="replace")[-2000:]
        raise PostgresUnavailable(f"pg_ctl could not start the server:\n{log}")
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _postgres_bin_dir() -> Path:
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    raise PostgresUnavailable("no initdb/pg_ctl on PATH or under /usr/lib/postgresql/*/bin")


def _run_as_prefix() -> tuple[str, ...]:
    if os.geteuid() != 0:
        return ()
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        raise PostgresUnavailable(
            f"running as root and there is no {SERVICE_USER!r} user to run PostgreSQL"
        ) from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresUnavailable("running as root and there is no runuser to drop privileges")
    return (runuser, "-u", SERVICE_USER, "--")


def _run(command: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if check and done.returncode != 0:
        raise PostgresUnavailable(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return done


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    try:
        cluster = start_postgres()
    except (PostgresUnavailable, OSError, subprocess.SubprocessError) as error:
        reason = f"PostgreSQL {POSTGRES_MAJOR} is unavailable: {error}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres_cluster: PostgresCluster) -> str:
    """The name of a database at the head migration, to copy for each test."""
    postgres_cluster.execute(f"CREATE DATABASE {TEMPLATE_DATABASE}")
    asyncio.run(upgrade_to_head(postgres_cluster.url(TEMPLATE_DATABASE)))
    return TEMPLATE_DATABASE


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the head migration, to copy for each test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "casting.db"
    asyncio.run(upgrade_to_head(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database at the head migration, fresh for this test."""
    if request.param == "sqlite":
        path = tmp_path / "casting.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template: str = request.getfixturevalue("postgres_template")
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    name = f"test_{uuid.uuid4().hex[:16]}"
    # FILE_COPY copies the template's files (and checkpoints, cheap with fsync off) instead of
    # writing every block of the copy to the WAL as the default WAL_LOG does.
    cluster.execute(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
    yield cluster.url(name)
    cluster.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest_asyncio.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=5, pool_timeout=10)
    yield engine
    await engine.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


@pytest.fixture
def uow_factory(session_factory: async_sessionmaker[AsyncSession]) -> Callable[[], SqlUnitOfWork]:
    """Makes one unit of work per call, as the server's container does per use-case."""
    return lambda: SqlUnitOfWork(session_factory)
