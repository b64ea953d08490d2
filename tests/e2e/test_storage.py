"""Production storage over the wire: the real server on SQLite and PostgreSQL keeps the library's
invariants under concurrent calls, answers reads in a fixed number of statements, pages stably,
and a shared PostgreSQL database is migrated by `casting migrate` before `casting serve` runs."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import pytest
from google.protobuf import field_mask_pb2
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from casting.adapters.sql.unit_of_work import SqlUnitOfWork
from casting.server.container import Container
from casting.server.mapping import render_actor
from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.e2e.rich_errors import details_of
from tests.e2e.test_flow import P, encoded, save
from tests.e2e.test_process import run_to_exit, wait_until_serving
from tests.integration.conftest import PROJECT, Library
from tests.support.databases import PostgresCluster
from tests.support.ports import free_port
from tests.support.s3 import S3Bucket
from tests.support.statements import counting

Stub = casting_pb2_grpc.CastingServiceStub


def make_default(look: str) -> pb.UpdateVariantRequest:
    return pb.UpdateVariantRequest(
        variant=pb.Variant(name=look, is_default=True),
        update_mask=field_mask_pb2.FieldMask(paths=["is_default"]),
    )


async def test_concurrent_default_moves_leave_exactly_one_default(stub: Stub) -> None:
    actor = await save(stub)
    base = actor.variants[0].name
    looks = [base]
    for n in range(7):
        branched = await stub.BranchVariant(
            pb.BranchVariantRequest(base_variant=base, trait_changes=pb.TraitChanges(mood=f"mood {n}"))
        )
        looks.append(branched.name)

    for _round in range(3):
        outcomes = await asyncio.gather(
            *(stub.UpdateVariant(make_default(look)) for look in looks), return_exceptions=True
        )
        moved = [o.name for o in outcomes if isinstance(o, pb.Variant) and o.is_default]
        refused = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
        assert len(moved) + len(refused) == len(looks), outcomes  # nothing else came back
        assert {error.code() for error in refused} <= {grpc.StatusCode.ABORTED}
        assert {details_of(error).reason for error in refused} <= {"CONCURRENT_CHANGE"}
        assert moved, "the first caller to reach the actor always wins"

        got = await stub.GetActor(pb.GetActorRequest(name=actor.name))
        defaults = [v.name for v in got.variants if v.is_default]
        assert len(defaults) == 1 and defaults[0] in moved
        assert got.default_variant == defaults[0]
        assert sorted(v.name for v in got.variants) == sorted(looks)


@pytest.fixture
def library(session_factory: async_sessionmaker[AsyncSession]) -> Library:
    """Stores actors straight through the repositories, beside the server, rendering them for
    reads as the server does: 250 looks drawn over the wire would take longer than the
    statements they are here to count."""
    return Library(lambda: SqlUnitOfWork(session_factory, render=render_actor))


@pytest.fixture
def uncached(container: Container) -> Container:
    """The read cache off, so that every read is counted at the database."""
    container.settings.override(container.settings().model_copy(update={"actor_cache_seconds": 0}))
    return container


async def test_reads_run_one_statement_for_1_or_50_actors(
    uncached: Container, stub: Stub, library: Library
) -> None:
    small = library.actor(project="small")
    large = [library.actor(f"Actor {n}", looks=5) for n in range(50)]
    for actor in [small, *large]:
        actor.cast(actor.variants[-1].id, "story-1", library.tick())
    await library.store(small, *large)

    def get(project: str, actor_id: str) -> Callable[[], Awaitable[object]]:
        return lambda: stub.GetActor(pb.GetActorRequest(name=f"projects/{project}/actors/{actor_id}"))

    def listing(project: str) -> Callable[[], Awaitable[object]]:
        return lambda: stub.ListActors(pb.ListActorsRequest(parent=f"projects/{project}", page_size=50))

    def cast(project: str) -> Callable[[], Awaitable[object]]:
        return lambda: stub.ListStoryCast(
            pb.ListStoryCastRequest(parent=f"projects/{project}/stories/story-1", page_size=50)
        )

    # The server's own engine and direct reads: every statement it runs.
    engine, direct = uncached.engine(), uncached.direct_reads()

    async def statements_for(call: Callable[[], Awaitable[object]]) -> int:
        with counting(engine, direct) as statements:
            await call()
        return len(statements)

    for few_rows, many_rows in [
        (get("small", small.id), get(PROJECT, large[-1].id)),
        (listing("small"), listing(PROJECT)),
        (cast("small"), cast(PROJECT)),
    ]:
        await few_rows()  # a first connection runs the dialect's own set-up queries once
        few = await statements_for(few_rows)
        many = await statements_for(many_rows)
        assert few == many == 1  # the actors' documents, read side only

    # The counted answers carried everything: 50 actors of 5 looks, all 50 cast.
    listed = await stub.ListActors(pb.ListActorsRequest(parent=f"projects/{PROJECT}", page_size=50))
    assert len(listed.actors) == 50 and not listed.next_page_token
    assert all(len(actor.variants) == 5 for actor in listed.actors)
    story = await stub.ListStoryCast(pb.ListStoryCastRequest(parent=f"projects/{PROJECT}/stories/story-1"))
    assert len(story.cast) == 50


async def imported(stub: Stub, name: str) -> str:
    actor = await stub.ImportActor(
        pb.ImportActorRequest(parent=P, image_content=encoded("PNG"), display_name=name)
    )
    return actor.name


async def test_pages_hold_still_while_actors_come_and_go_between_them(stub: Stub) -> None:
    made = [await imported(stub, f"Actor {n}") for n in range(7)]
    seen: list[str] = []
    token = ""
    while True:
        page = await stub.ListActors(pb.ListActorsRequest(parent=P, page_size=2, page_token=token))
        seen += [actor.name for actor in page.actors]
        token = page.next_page_token
        if not token:
            break
        # Two newer actors land before page one and the last one seen goes: a page that
        # counted rows from the top would now repeat one; one that follows (create time, id)
        # from the last row seen does not care.
        await imported(stub, "Newcomer")
        await imported(stub, "Newcomer")
        await stub.DeleteActor(pb.DeleteActorRequest(name=seen[-1]))

    assert seen == list(reversed(made))


@pytest.mark.postgres
def test_casting_migrate_then_casting_serve_on_postgresql_and_s3(
    postgres_cluster: PostgresCluster, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    """The README's production commands, as processes: serve refuses a database that was never
    migrated, `casting migrate` brings it to head, and then serve works on it and on S3."""
    database = f"process_{uuid.uuid4().hex[:12]}"
    postgres_cluster.execute(f"CREATE DATABASE {database}")
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith(("CASTING_", "AWS_"))}
    env.pop("GEMINI_API_KEY", None)
    env |= {
        "CASTING_HOST": "127.0.0.1",
        "CASTING_PORT": str(port),
        "CASTING_DATABASE_URL": postgres_cluster.url(database),
        "CASTING_BLOB_URL": s3_bucket.url("prod"),
        "CASTING_GRACE_PERIOD_SECONDS": "2",
        **s3_bucket.environ(),
    }
    casting = [str(Path(sys.executable).with_name("casting"))]
    try:
        refused = subprocess.run([*casting, "serve"], env=env, capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0
        assert "run `casting migrate`" in refused.stderr

        migrated = subprocess.run([*casting, "migrate"], env=env, capture_output=True, text=True, timeout=60)
        assert migrated.returncode == 0, migrated.stderr
        assert json.loads(migrated.stdout) == {"actors_rendered": 0}

        with (tmp_path / "server.log").open("wb") as log:
            server = subprocess.Popen([*casting, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_serving(port, server)
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                sync_stub = casting_pb2_grpc.CastingServiceStub(channel)
                sheet = sync_stub.GenerateSheet(
                    pb.GenerateSheetRequest(parent=P, story_style="romance", image_style="webtoon"),
                    timeout=30,
                )
                actor = sync_stub.SaveActor(
                    pb.SaveActorRequest(parent=P, sheet=sheet.name, display_name="Mina"), timeout=30
                )
                assert sync_stub.GetActor(pb.GetActorRequest(name=actor.name), timeout=30) == actor
            # The server rendered the actor it saved for reads: migrating again finds none behind.
            again = subprocess.run([*casting, "migrate"], env=env, capture_output=True, text=True, timeout=60)
            assert json.loads(again.stdout) == {"actors_rendered": 0}, again.stderr
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=20) == 0
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
        assert s3_bucket.object_names() == {f"prod/{sheet.image.sha256}"}
    finally:
        postgres_cluster.execute(f"DROP DATABASE {database} WITH (FORCE)")


@pytest.mark.postgres
def test_casting_migrate_and_serve_name_a_database_that_does_not_exist(
    postgres_cluster: PostgresCluster,
) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("CASTING_")}
    url = postgres_cluster.url("no_such_database")  # no password to hide
    env |= {"CASTING_DATABASE_URL": url, "CASTING_CONSOLE_PORT": "0"}
    for command in ("migrate", "serve"):
        refused = run_to_exit(command, env)
        assert refused.returncode == 1
        assert refused.stderr.splitlines() == [
            f'casting: the database {url} is out of reach: database "no_such_database" does not exist'
        ]
