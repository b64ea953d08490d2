"""`casting serve` from several processes (CASTING_PROCESSES): children of one parent answering on
one gRPC port, each with its own metrics port, all drained by one SIGTERM. PostgreSQL only."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.e2e.test_process import run_to_exit, wait_until_serving
from tests.support import fake_gemini as fake
from tests.support.fake_gemini import FakeGemini
from tests.support.ports import free_port
from tests.support.waiting import eventually

PROCESSES = 2
IN_FLIGHT = "casting_generations_in_flight "
STOPPING = "casting stopping: health is NOT_SERVING"
SERVING = "casting serving on port"
REQUEST = pb.GenerateSheetRequest(parent="projects/p", story_style="comedy", image_style="chibi")


def free_ports(count: int) -> int:
    """The first of `count` consecutive free ports (a child's metrics port is the first + its index)."""
    while True:
        first = free_port()
        if first + count > 65535:
            continue
        try:
            for port in range(first, first + count):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first


def serve_env(tmp_path: Path, database_url: str, port: int, **extra: str) -> dict[str, str]:
    unkeyed = {name: value for name, value in os.environ.items() if name != "GEMINI_API_KEY"}
    return (
        unkeyed
        | {
            "CASTING_HOST": "127.0.0.1",
            "CASTING_PORT": str(port),
            "CASTING_DATABASE_URL": database_url,
            "CASTING_BLOB_URL": f"file://{tmp_path / 'blobs'}",
            "CASTING_GRACE_PERIOD_SECONDS": "20",
            "CASTING_CONSOLE_PORT": "0",
            "CASTING_COLLECT_INTERVAL_SECONDS": "0",
            "CASTING_PROCESSES": str(PROCESSES),
        }
        | extra
    )


def in_flight(metrics_port: int) -> float:
    """The model calls one process is running now, as its /metrics says."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return float(next(line for line in text.splitlines() if line.startswith(IN_FLIGHT)).split()[1])


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes the test starts, killed if still running at its end."""
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def serve(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "casting.server.cli", "serve"],
        env=env,
        stdout=(tmp_path / "server.log").open("ab"),
        stderr=subprocess.STDOUT,
    )


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_every_process_answers_on_the_one_port_and_one_sigterm_drains_them_all(
    tmp_path: Path, database_url: str, fake_gemini: FakeGemini, started: list[subprocess.Popen[bytes]]
) -> None:
    port, metrics = free_ports(1), free_ports(PROCESSES)
    env = serve_env(
        tmp_path,
        database_url,
        port,
        CASTING_GENERATOR="gemini",
        GEMINI_API_KEY="test-key",
        CASTING_GEMINI_BASE_URL=fake_gemini.base_url,
        CASTING_VERIFY="off",
        CASTING_METRICS_PORT=str(metrics),
    )
    parent = serve(tmp_path, env)
    started.append(parent)
    wait_until_serving(port, parent)
    for index in range(PROCESSES):
        eventually(lambda index=index: _answers(metrics + index))
    fake_gemini.script(*(fake.held() for _ in range(64)))

    # New connections until every process has a drawing in flight: the kernel picks the process.
    calls: list[Future[pb.Sheet]] = []
    channels: list[grpc.Channel] = []
    with ThreadPoolExecutor(64) as pool:
        try:
            while not all(in_flight(metrics + i) >= 1 for i in range(PROCESSES)):
                assert len(calls) < 64, "every new connection went to the same process"
                # A channel of its own subchannels: a new connection, not the last one shared.
                options = [("grpc.use_local_subchannel_pool", 1)]
                channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=options)
                channels.append(channel)
                stub = casting_pb2_grpc.CastingServiceStub(channel)
                calls.append(pool.submit(stub.GenerateSheet, REQUEST, timeout=60))
                eventually(lambda: len(fake_gemini.image_requests) == len(calls))

            parent.send_signal(signal.SIGTERM)
            log = tmp_path / "server.log"
            eventually(lambda: log.read_text().count(STOPPING) == PROCESSES)  # every process is stopping...
            fake_gemini.release()
            sheets = [call.result() for call in calls]  # ...and finishes the calls it had
        finally:
            for channel in channels:
                channel.close()

    assert all(sheet.generation.generator == "gemini" for sheet in sheets)
    assert parent.wait(timeout=30) == 0


def _answers(metrics_port: int) -> bool:
    try:
        in_flight(metrics_port)
    except OSError:
        return False
    return True


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_several_processes_on_sqlite_are_refused_at_start(tmp_path: Path, database_url: str) -> None:
    env = serve_env(tmp_path, database_url, free_ports(1))

    finished = run_to_exit("serve", env)

    assert finished.returncode != 0
    assert "CASTING_PROCESSES above 1 needs PostgreSQL" in finished.stderr


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_process_that_dies_unasked_stops_the_others_and_the_parent_fails(
    tmp_path: Path, database_url: str, started: list[subprocess.Popen[bytes]]
) -> None:
    port = free_ports(1)
    parent = serve(tmp_path, serve_env(tmp_path, database_url, port))
    started.append(parent)
    wait_until_serving(port, parent)
    # The port answers once one child does: the other may still be starting, and would die of
    # the parent's SIGTERM before it listens for it.
    log = tmp_path / "server.log"
    eventually(lambda: log.read_text().count(SERVING) == PROCESSES)
    children = [int(pid) for pid in _logged(tmp_path, "casting serving from").rsplit(":", 1)[1].split()]
    assert len(children) == PROCESSES

    os.kill(children[0], signal.SIGKILL)

    assert parent.wait(timeout=30) != 0  # for the service manager to start it again
    assert _logged(tmp_path, STOPPING)  # the other one drained, as on SIGTERM
    with pytest.raises(ProcessLookupError):
        os.kill(children[1], 0)


def _logged(tmp_path: Path, text: str) -> str:
    """The message of the first log line holding `text`."""
    for line in (tmp_path / "server.log").read_text().splitlines():
        if line.startswith("{") and text in (message := json.loads(line)["message"]):
            return str(message)
    raise AssertionError(f"no log line says {text!r}")
