"""Monthly budgets per project (CASTING_BUDGETS_FILE): a drawing that would pass the cap is
refused before the model is called, as RESOURCE_EXHAUSTED BUDGET_EXCEEDED with a QuotaFailure;
and two replicas racing at the cap on one PostgreSQL do not pass it together."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from casting.adapters.sql.engine import create_engine, create_session_factory
from casting.adapters.sql.unit_of_work import SqlUnitOfWork
from casting.server.container import Container
from casting.server.main import running
from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.e2e.conftest import drawing_with_gemini
from tests.e2e.rich_errors import details_of
from tests.e2e.test_process import wait_until_serving
from tests.support import fake_gemini as gemini
from tests.support.databases import PostgresCluster
from tests.support.fake_gemini import FakeGemini
from tests.support.ports import free_port

# One drawing of gemini-2.5-flash-image is reserved at 1500 input tokens at $0.30 and 1290 image
# tokens at $30 a million: $0.03915. A cap of $0.12 holds three.
ESTIMATE_MICROS = 39_150
CAP_USD = "0.12"
P = "projects/studio-1"


def budgets_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "budgets.yaml"
    path.write_text(text)
    return str(path)


def request(parent: str = P) -> pb.GenerateSheetRequest:
    return pb.GenerateSheetRequest(parent=parent, story_style="romance", image_style="webtoon")


async def month_spend(database_url: str, project: str, month: str) -> int:
    engine = create_engine(database_url)
    try:
        async with SqlUnitOfWork(create_session_factory(engine)) as uow:
            return await uow.ledger.spent(project, month)
    finally:
        await engine.dispose()


def assert_budget_exceeded(error: grpc.aio.AioRpcError, cap_micros: int) -> None:
    found = details_of(error)
    assert (found.code, found.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "BUDGET_EXCEEDED")
    assert found.metadata["cap_micros"] == str(cap_micros)
    [violation] = found.quota
    assert violation.subject == P and violation.quota_value == cap_micros
    assert violation.quota_dimensions["project"] == "studio-1"
    assert f"{int(found.metadata['spent_micros']) / 1e6:.6f} USD spent" in violation.description


async def test_a_drawing_past_the_cap_is_refused_before_the_model_is_called(
    container: Container, fake_gemini: FakeGemini, tmp_path: Path
) -> None:
    caps = budgets_file(tmp_path, f"default: 1000\nprojects:\n  studio-1: {CAP_USD}\n")
    # Drawings alone (verification off): what judging adds to a look is test_verification.py's.
    drawing_with_gemini(container, fake_gemini, budgets_file=caps, verify="off")
    async with running(container) as live, grpc.aio.insecure_channel(f"127.0.0.1:{live.port}") as channel:
        stub = casting_pb2_grpc.CastingServiceStub(channel)
        drawn = [await stub.GenerateSheet(request()) for _ in range(3)]
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GenerateSheet(request())
        await stub.GenerateSheet(request("projects/studio-2"))  # under the default cap
        stored = await stub.GetSheet(pb.GetSheetRequest(name=drawn[0].name))

    assert_budget_exceeded(refused.value, 120_000)
    assert len(fake_gemini.requests) == 4, "the refused drawing never reached the model"
    usage = drawn[0].generation.usage
    assert (usage.model_calls, usage.output_tokens) == (1, 1290 + 5)  # the image, and "Here is the sheet."
    assert 1290 * 30 < usage.cost_micros < ESTIMATE_MICROS
    assert stored.generation.usage == usage
    month = drawn[0].create_time.ToDatetime().strftime("%Y-%m")
    spend = await month_spend(container.settings().database_url, "studio-1", month)
    assert spend == sum(sheet.generation.usage.cost_micros for sheet in drawn)


def start_replica(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """`casting serve` in a process of its own, as each replica runs."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "casting.server.cli", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture
def shared_database(postgres_cluster: PostgresCluster, postgres_template: str) -> Iterator[str]:
    name = f"replicas_{uuid.uuid4().hex[:12]}"
    postgres_cluster.execute(f"CREATE DATABASE {name} TEMPLATE {postgres_template} STRATEGY FILE_COPY")
    yield postgres_cluster.url(name)
    postgres_cluster.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.mark.postgres
async def test_two_replicas_racing_at_the_cap_do_not_pass_it_together(
    shared_database: str, fake_gemini: FakeGemini, tmp_path: Path
) -> None:
    """Eight drawings at once, four through each replica, for a cap that holds three: the
    replicas reserve in turn, so three are drawn, five refused, and the month's spend is what
    the three cost."""
    caps = budgets_file(tmp_path, f"projects:\n  studio-1: {CAP_USD}\n")
    # Slow answers: every reservation is decided while the first drawings are still in flight.
    fake_gemini.script(*[gemini.image(delay=1.0)] * 8)
    env = {name: value for name, value in os.environ.items() if not name.startswith("CASTING_")}
    env |= {
        "CASTING_HOST": "127.0.0.1",
        "CASTING_DATABASE_URL": shared_database,
        "CASTING_BLOB_URL": f"file://{tmp_path / 'blobs'}",
        "CASTING_GENERATOR": "gemini",
        "GEMINI_API_KEY": "test-key-not-real",
        "CASTING_GEMINI_BASE_URL": fake_gemini.base_url,
        "CASTING_BUDGETS_FILE": caps,
        "CASTING_VERIFY": "off",
        "CASTING_CONSOLE_PORT": "0",
        "CASTING_GRACE_PERIOD_SECONDS": "2",
    }
    ports = [free_port(), free_port()]
    replicas = [
        start_replica(env | {"CASTING_PORT": str(port)}, tmp_path / f"replica-{port}.log") for port in ports
    ]
    try:
        for port, process in zip(ports, replicas, strict=True):
            await asyncio.to_thread(wait_until_serving, port, process)
        channels = [grpc.aio.insecure_channel(f"127.0.0.1:{port}") for port in ports]
        stubs = [casting_pb2_grpc.CastingServiceStub(channel) for channel in channels]
        outcomes = await asyncio.gather(
            *(stub.GenerateSheet(request(), timeout=60) for stub in stubs for _ in range(4)),
            return_exceptions=True,
        )
        for channel in channels:
            await channel.close()
    finally:
        for process in replicas:
            process.kill()
            process.wait()

    drawn = [o for o in outcomes if isinstance(o, pb.Sheet)]
    refused = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    assert (len(drawn), len(refused)) == (3, 5), outcomes
    for error in refused:
        assert_budget_exceeded(error, 120_000)
    assert len(fake_gemini.requests) == 3
    month = drawn[0].create_time.ToDatetime().strftime("%Y-%m")
    spend = await month_spend(shared_database, "studio-1", month)
    assert spend == sum(sheet.generation.usage.cost_micros for sheet in drawn) <= 120_000
