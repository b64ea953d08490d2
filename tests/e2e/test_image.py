"""The container image's command line (tests/support/image.py reads it from the Dockerfile) as a
real process: it serves on the image's defaults, reports SERVING, and drains on SIGTERM, which is
what Kubernetes sends a pod it stops; and the migration Job's command line migrates."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

import grpc
import pytest
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from casting.adapters.sql.migrate import alembic_config, lacks_migrations
from casting.v1 import casting_pb2_grpc
from tests.e2e.test_lifecycle import NOT_SERVING, SERVING, refused
from tests.e2e.test_observability import generate_request, scrape
from tests.e2e.test_process import wait_until_serving
from tests.support import fake_gemini as gemini
from tests.support.databases import PostgresCluster
from tests.support.fake_gemini import FakeGemini
from tests.support.image import image
from tests.support.manifests import manifests
from tests.support.pod import pod
from tests.support.ports import free_port
from tests.support.waiting import eventually


def test_the_image_runs_casting_serve_as_a_non_root_user() -> None:
    built = image()
    assert built.argv() == ["casting", "serve"]
    assert built.argv(args=["migrate"]) == ["casting", "migrate"]
    assert built.user.split(":")[0] not in ("0", "root")


def test_the_image_command_line_serves_and_drains_a_generation_on_sigterm(
    tmp_path: Path, fake_gemini: FakeGemini
) -> None:
    built = image()
    port, metrics_port = free_port(), free_port()
    # What a pod adds to the image: its ports (free ones here, on a shared machine) and the
    # Gemini key from its Secret, pointed at the local fake of Gemini's API.
    env = {
        "CASTING_HOST": "127.0.0.1",
        "CASTING_PORT": str(port),
        "CASTING_METRICS_PORT": str(metrics_port),
        "CASTING_CONSOLE_PORT": "0",
        "GEMINI_API_KEY": "test-key-not-real",
        "CASTING_GEMINI_BASE_URL": fake_gemini.base_url,
        "CASTING_GRACE_PERIOD_SECONDS": "20",
    }
    with (tmp_path / "server.log").open("wb") as log:
        process = built.start(built.argv(), env, cwd=tmp_path, output=log)
    try:
        wait_until_serving(port, process)
        assert scrape(metrics_port).value("casting_generations_in_flight") == 0
        fake_gemini.script(gemini.image(delay=4))
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
            assert next(watch).status == SERVING
            pending = casting_pb2_grpc.CastingServiceStub(channel).GenerateSheet.future(
                generate_request(), timeout=60
            )
            eventually(lambda: fake_gemini.requests)  # the model is drawing

            process.send_signal(signal.SIGTERM)

            assert next(watch).status == NOT_SERVING
            watch.cancel()
            eventually(lambda: refused(f"127.0.0.1:{port}"))
            assert pending.result(timeout=30).generation.generator == "gemini"
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # The embedded defaults wrote under the image's working directory.
    assert (tmp_path / "var" / "casting.db").is_file()


def run_job(name: str, database_url: str, root: Path) -> None:
    """A Job of deploy/kubernetes as the image runs it, its database Secret holding `url`."""
    found = manifests()
    job = pod(found, found.one("Job", name), {"casting-database": {"url": database_url.encode()}}, root)
    # The Job's only setting is the database URL, from its Secret.
    assert set(job.env) == {"CASTING_DATABASE_URL"}
    log = root / f"{name}.log"
    with log.open("wb") as output:
        process = job.start(output)
    assert process.wait(timeout=120) == 0, log.read_text()


async def revision(url: str) -> str:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            [current] = await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_heads()
            )
    finally:
        await engine.dispose()
    return str(current)


@pytest.mark.postgres
def test_the_migration_job_brings_a_fresh_database_to_head_and_the_downgrade_job_steps_back_one(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_revision("head")
    database = f"job_{uuid.uuid4().hex[:12]}"
    postgres_cluster.execute(f"CREATE DATABASE {database}")
    url = postgres_cluster.url(database)
    try:
        assert asyncio.run(lacks_migrations(url))
        run_job("casting-migrate", url, tmp_path)
        assert asyncio.run(revision(url)) == head.revision

        run_job("casting-downgrade", url, tmp_path)
        assert asyncio.run(revision(url)) == head.down_revision, (
            "deploy/kubernetes/rollback/downgrade-job.yaml must name the revision before the newest, "
            f"{head.down_revision} (and deploy/README.md's Rollback table say what its downgrade drops)"
        )
        assert asyncio.run(lacks_migrations(url))  # the new release would refuse it; the old serves

        run_job("casting-migrate", url, tmp_path)
        assert asyncio.run(revision(url)) == head.revision
    finally:
        postgres_cluster.execute(f"DROP DATABASE {database} WITH (FORCE)")
