"""A replica dies mid-casting (`kill -9`) and the work is finished anyway: on PostgreSQL by the
other replica, which runs all along on the same database and S3 store; on the embedded SQLite
default by the next process on the same files. Every role is cast exactly once, the model is
called at most once per step plus once per call in flight at the kill, and nothing is left
half-made."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.api_core import operation, operations_v1
from sqlalchemy import make_url, text

from casting.adapters.sql.engine import create_engine
from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.e2e.test_process import wait_until_serving
from tests.support.fake_gemini import FakeGemini, held
from tests.support.ports import free_port
from tests.support.s3 import S3Bucket
from tests.support.waiting import eventually

STORY = "projects/studio-1/stories/pilot"
ROLES = ("Hero", "Rival", "Mentor")


class Replica:
    """`casting serve` in its own process, drawing on the fake Gemini, one step at a time."""

    def __init__(self, tmp_path: Path, name: str, env: dict[str, str]) -> None:
        self.port = free_port()
        self.log_path = tmp_path / f"{name}.log"
        environment = os.environ | env | {"CASTING_PORT": str(self.port)}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "casting.server.cli", "serve"],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until_serving(self.port, self.process)

    def stub(self, channel: grpc.Channel) -> casting_pb2_grpc.CastingServiceStub:
        return casting_pb2_grpc.CastingServiceStub(channel)

    def channel(self) -> grpc.Channel:
        return grpc.insecure_channel(f"127.0.0.1:{self.port}")

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no shutdown, no goodbye to the database
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def replicas() -> Iterator[list[Replica]]:
    started: list[Replica] = []
    yield started
    for replica in started:
        replica.stop()


def server_env(database_url: str, blob_url: str, fake: FakeGemini, s3: S3Bucket) -> dict[str, str]:
    return s3.environ() | {
        "CASTING_HOST": "127.0.0.1",
        "CASTING_DATABASE_URL": database_url,
        "CASTING_BLOB_URL": blob_url,
        "CASTING_GENERATOR": "gemini",
        "GEMINI_API_KEY": "test-key-not-real",
        "CASTING_GEMINI_BASE_URL": fake.base_url,
        "CASTING_CAST_WORKERS": "1",
        "CASTING_CAST_HEARTBEAT_SECONDS": "0.5",
        "CASTING_CAST_STALLED_SECONDS": "2",
        "CASTING_GRACE_PERIOD_SECONDS": "1",
        "CASTING_CONSOLE_PORT": "0",
        "CASTING_COLLECT_INTERVAL_SECONDS": "0",
    }


def finished(port: int, name: str) -> tuple[pb.CastStoryResponse, pb.CastStoryMetadata]:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        client = operations_v1.OperationsClient(channel)
        future = operation.from_gapic(
            client.get_operation(name), client, pb.CastStoryResponse, metadata_type=pb.CastStoryMetadata
        )
        return future.result(timeout=90), future.metadata


async def half_made(database_url: str) -> dict[str, int]:
    """Rows a step can leave if it stops between its writes: unsaved sheets, actors not cast."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            unsaved = await connection.scalar(text("SELECT count(*) FROM sheets WHERE character_id IS NULL"))
            uncast = await connection.scalar(
                text(
                    "SELECT count(*) FROM characters c"
                    " WHERE NOT EXISTS (SELECT 1 FROM story_casts s WHERE s.character_id = c.id)"
                )
            )
            return {"unsaved sheets": unsaved or 0, "actors not cast": uncast or 0}
    finally:
        await engine.dispose()


def test_a_killed_replicas_casting_is_finished_by_another(
    database_url: str, tmp_path: Path, fake_gemini: FakeGemini, s3_bucket: S3Bucket, replicas: list[Replica]
) -> None:
    env = server_env(database_url, s3_bucket.url("failover"), fake_gemini, s3_bucket)
    on_postgres = make_url(database_url).get_backend_name() == "postgresql"
    fake_gemini.script(held())  # the first drawing never comes back to the replica that asked
    first = Replica(tmp_path, "first", env)
    replicas.append(first)
    with first.channel() as channel:
        started = first.stub(channel).CastStory(
            pb.CastStoryRequest(
                story=STORY,
                roles=[
                    pb.CastingCall(
                        role=role, traits=pb.Traits(mood=role), story_style="action", image_style="webtoon"
                    )
                    for role in ROLES
                ],
            ),
            timeout=30,
        )
    # The first replica is drawing a role.
    eventually(lambda: len(fake_gemini.image_requests) == 1, seconds=60)
    in_flight_at_kill = 1
    if on_postgres:
        # The second replica runs beside the first, on the same database and store.
        second = Replica(tmp_path, "second", env)
        replicas.append(second)
        first.kill()
    else:
        first.kill()
        second = Replica(tmp_path, "second", env)  # the next process on the same files
        replicas.append(second)

    response, metadata = finished(second.port, started.name)

    assert (metadata.roles_done, list(metadata.failed)) == (len(ROLES), [])
    assert sorted(member.role for member in response.cast) == sorted(ROLES)
    with second.channel() as channel:
        stub = second.stub(channel)
        actors = stub.ListActors(pb.ListActorsRequest(parent="projects/studio-1"), timeout=30)
        cast = stub.ListStoryCast(pb.ListStoryCastRequest(parent=STORY), timeout=30)
    assert sorted(actor.display_name for actor in actors.actors) == sorted(ROLES)  # each exactly once
    assert {m.variant.name for m in cast.cast} == {m.variant.name for m in response.cast}
    # Model calls: a drawing per step plus the one in flight at the kill, and the judge once for
    # each drawing kept (the one in flight never came back to be judged).
    assert len(fake_gemini.image_requests) <= len(ROLES) + in_flight_at_kill
    assert len(fake_gemini.judge_requests) == len(ROLES)
    assert asyncio.run(half_made(database_url)) == {"unsaved sheets": 0, "actors not cast": 0}
