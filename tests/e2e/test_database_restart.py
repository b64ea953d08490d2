"""PostgreSQL dropping the service's pooled connections, as a restart or a failover does, while
the service runs, with no ping on every checkout (adapters/sql/disconnects.py).

What a caller sees, by design:
- after a restart (or pg_terminate_backend), which closes each connection's socket: nothing, every
  call answers, a drawing under way across the restart included;
- after a failover that leaves the sockets open until they next send: every read answers (it runs
  once more on a new connection); a write that meets a dropped connection is not run again (it may
  have reached the server), and is UNAVAILABLE with RetryInfo, STORAGE_UNAVAILABLE; in a sequence of
  calls that is the first write at most, and every later call answers.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import grpc
import pytest
from sqlalchemy import make_url

from casting.server.container import Container
from casting.server.main import running
from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.e2e.conftest import drawing_with_gemini
from tests.e2e.rich_errors import details_of
from tests.e2e.test_flow import P, save
from tests.support import fake_gemini as fake
from tests.support.databases import PostgresCluster
from tests.support.fake_gemini import FakeGemini
from tests.support.pg_proxy import PostgresProxy
from tests.support.waiting import until

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]


def sheet_request(request_id: str = "") -> pb.GenerateSheetRequest:
    return pb.GenerateSheetRequest(
        parent=P,
        story_style="romance",
        image_style="webtoon",
        traits=pb.Traits(mood="calm"),
        request_id=request_id,
    )


async def advisory_locks(database_url: str) -> int:
    """Advisory locks held in the database: model-call slots still taken."""
    url = make_url(database_url)
    connection = await asyncpg.connect(host=url.host, port=url.port, user=url.username, database=url.database)
    try:
        held: int = await connection.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
        return held
    finally:
        await connection.close()


@pytest.fixture
def container(container: Container, fake_gemini: FakeGemini) -> Container:
    """The real Gemini client (its calls hold a model-call slot, an advisory lock), the read cache
    off so that every GetActor reads the database."""
    return drawing_with_gemini(container, fake_gemini, verify="off", actor_cache_seconds=0)


async def test_every_call_after_a_postgresql_restart_answers(
    container: Container, stub, fake_gemini: FakeGemini, postgres_cluster: PostgresCluster, database_url: str
) -> None:
    """A restart closes every pooled connection; the pools replace them as they hand them out, so
    no caller sees it: not a drawing whose model call spans it, nor any call after it, nor several
    at once. No model-call slot is left taken by a connection the restart ended."""
    actor = await save(stub)  # both pools now hold connections
    fake_gemini.script(fake.held())
    across = asyncio.ensure_future(stub.GenerateSheet(sheet_request(request_id="across-the-restart")))
    await until(lambda: len(fake_gemini.image_requests) == 2)  # its slot taken, its model call out

    postgres_cluster.restart()
    fake_gemini.release()

    sheet = await across
    assert (await stub.GetActor(pb.GetActorRequest(name=actor.name))).name == actor.name
    assert (await stub.GenerateSheet(sheet_request())).name.startswith(f"{P}/sheets/")
    assert (await stub.GenerateSheet(sheet_request(request_id="across-the-restart"))).name == sheet.name
    saved = await stub.SaveActor(pb.SaveActorRequest(parent=P, sheet=sheet.name, display_name="After"))
    at_once = await asyncio.gather(
        *(stub.GetActor(pb.GetActorRequest(name=name)) for name in (actor.name, saved.name) * 3),
        *(stub.GenerateSheet(sheet_request(request_id=uuid.uuid4().hex)) for _ in range(3)),
    )
    assert len(at_once) == 9
    assert await advisory_locks(database_url) == 0


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[PostgresProxy]:
    url = make_url(database_url)
    async with PostgresProxy(url.host or "127.0.0.1", url.port or 5432).running() as proxy:
        yield proxy


@pytest.fixture
async def failing_over(
    container: Container, proxy: PostgresProxy, database_url: str
) -> AsyncIterator[casting_pb2_grpc.CastingServiceStub]:
    """A stub of the service reaching PostgreSQL through the proxy, which can fail over."""
    proxied = make_url(database_url).set(port=proxy.port).render_as_string(hide_password=False)
    container.settings.override(container.settings().model_copy(update={"database_url": proxied}))
    async with running(container) as live, grpc.aio.insecure_channel(f"127.0.0.1:{live.port}") as channel:
        yield casting_pb2_grpc.CastingServiceStub(channel)


async def test_after_a_failover_reads_answer_and_at_most_the_first_write_is_unavailable(
    failing_over, proxy: PostgresProxy
) -> None:
    """A read that meets a connection the failover dropped runs again on a new one: GetActor, and
    GenerateSheet's look for an earlier call under its request_id, each the first call after one.
    A write is not run again (without a request_id a second run could make a second sheet): the
    caller hears a retryable UNAVAILABLE, and the pool has dropped every connection pooled before
    it, so the caller's retry and every later call answer."""
    stub = failing_over
    actor = await save(stub)
    proxy.fail_over()
    assert (await stub.GetActor(pb.GetActorRequest(name=actor.name))).name == actor.name
    assert (await stub.GenerateSheet(sheet_request(request_id="after-one"))).name

    proxy.fail_over()
    sheet = await stub.GenerateSheet(sheet_request(request_id="after-two"))
    assert (await stub.GenerateSheet(sheet_request(request_id="after-two"))).name == sheet.name

    proxy.fail_over()
    with pytest.raises(grpc.aio.AioRpcError) as dropped:
        await stub.GenerateSheet(sheet_request())
    found = details_of(dropped.value)
    assert (found.code, found.reason) == (grpc.StatusCode.UNAVAILABLE, "STORAGE_UNAVAILABLE")
    assert found.retry_seconds and "SELECT" not in found.message and "INSERT" not in found.message
    sheet = await stub.GenerateSheet(sheet_request())
    assert (await stub.SaveActor(pb.SaveActorRequest(parent=P, sheet=sheet.name, display_name="Later"))).name
    assert (await stub.GetActor(pb.GetActorRequest(name=actor.name))).name == actor.name
