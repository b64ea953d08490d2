"""The lifecycle of `casting serve` in its own process, with the Gemini generator against the
local fake so that a generation can be slow: SIGTERM drains in-flight generations before the
process exits, and a caller who gives up stops the server's wait on the model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.e2e.test_observability import generate_request, scrape
from tests.e2e.test_process import wait_until_serving
from tests.support import fake_gemini as gemini
from tests.support.fake_gemini import FakeGemini
from tests.support.ports import free_port
from tests.support.waiting import eventually

MODEL = {"generator": "gemini", "model": "gemini-2.5-flash-image"}
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    address: str
    metrics_port: int
    log: Path


@pytest.fixture
def served(tmp_path: Path, fake_gemini: FakeGemini) -> Iterator[Served]:
    port, metrics_port = free_port(), free_port()
    env = os.environ | {
        "CASTING_HOST": "127.0.0.1",
        "CASTING_PORT": str(port),
        "CASTING_METRICS_PORT": str(metrics_port),
        "CASTING_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'var' / 'casting.db'}",
        "CASTING_BLOB_URL": f"file://{tmp_path / 'var' / 'blobs'}",
        "CASTING_GENERATOR": "gemini",
        "GEMINI_API_KEY": "test-key-not-real",
        "CASTING_GEMINI_BASE_URL": fake_gemini.base_url,
        "CASTING_GEMINI_MAX_ATTEMPTS": "1",
        "CASTING_GRACE_PERIOD_SECONDS": "20",
        "CASTING_CONSOLE_PORT": "0",  # off: its default port is the console tests'
        "OTEL_TRACES_EXPORTER": "none",  # the log must hold only the service's JSON lines
    }
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "casting.server.cli", "serve"], env=env, stdout=output, stderr=output
        )
    try:
        wait_until_serving(port, process)
        yield Served(process, f"127.0.0.1:{port}", metrics_port, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def refused(address: str) -> bool:
    """Whether a new call on a new connection is turned away."""
    with grpc.insecure_channel(address) as channel:
        try:
            casting_pb2_grpc.CastingServiceStub(channel).ListStyles(pb.ListStylesRequest(), timeout=5)
        except grpc.RpcError as error:
            return error.code() is grpc.StatusCode.UNAVAILABLE
    return False


def test_sigterm_stops_new_calls_drains_the_generation_in_flight_and_exits_0(
    served: Served, fake_gemini: FakeGemini
) -> None:
    fake_gemini.script(gemini.held())
    with grpc.insecure_channel(served.address) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
        assert next(watch).status == SERVING
        pending = casting_pb2_grpc.CastingServiceStub(channel).GenerateSheet.future(
            generate_request(request_id="2f1e0d9c-8b7a-4655-9443-322110ffeedd"), timeout=60
        )
        eventually(lambda: fake_gemini.requests)  # the model is drawing

        served.process.send_signal(signal.SIGTERM)

        assert next(watch).status == NOT_SERVING
        watch.cancel()  # a watch is a call in flight too; the drain would wait for it
        eventually(lambda: refused(served.address))
        assert not pending.done()  # held by the model, not ended by the stop
        fake_gemini.release()
        sheet = pending.result(timeout=30)
    assert sheet.generation.generator == "gemini"
    assert served.process.wait(timeout=30) == 0

    lines = [json.loads(line) for line in served.log.read_text().splitlines()]
    [rpc] = [line for line in lines if line.get("request_id") == "2f1e0d9c-8b7a-4655-9443-322110ffeedd"]
    assert (rpc["method"], rpc["code"]) == ("/casting.v1.CastingService/GenerateSheet", "OK")


def test_a_caller_who_cancels_or_runs_out_of_time_stops_the_wait_on_the_model(
    served: Served, fake_gemini: FakeGemini
) -> None:
    # Answers far later than the checks below wait: the model call ends because the caller left.
    fake_gemini.script(gemini.hang(60), gemini.hang(60))
    with grpc.insecure_channel(served.address) as channel:
        stub = casting_pb2_grpc.CastingServiceStub(channel)
        pending = stub.GenerateSheet.future(generate_request(), timeout=60)
        eventually(lambda: fake_gemini.requests)  # the model is drawing
        assert scrape(served.metrics_port).value("casting_generations_in_flight") == 1
        pending.cancel()
        eventually(lambda: scrape(served.metrics_port).value("casting_generations_in_flight") == 0)
        metrics = scrape(served.metrics_port)
        assert metrics.value("casting_generations_total", **MODEL, outcome="cancelled") == 1

        with pytest.raises(grpc.RpcError) as error:
            stub.GenerateSheet(generate_request(), timeout=1)
        assert error.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
        # The model call was cut to the caller's deadline: it ended, not ok, long before the
        # fake's answer, and nothing is left running.
        eventually(lambda: ended_generations(served.metrics_port) == 2)
        assert scrape(served.metrics_port).value("casting_generations_in_flight") == 0
    assert len(fake_gemini.requests) == 2


def ended_generations(metrics_port: int) -> float:
    metrics = scrape(metrics_port)
    return sum(
        value
        for (name, labels), value in metrics.samples.items()
        if name == "casting_generations_total" and ("outcome", "ok") not in labels
    )
