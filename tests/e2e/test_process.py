"""The service as an operator runs it: `casting serve` in its own process, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.support.ports import free_port


def wait_until_serving(port: int, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            assert process.poll() is None, "the server exited during start-up"
            try:
                if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                    return
            except grpc.RpcError:
                time.sleep(0.2)
    raise AssertionError("the server did not become SERVING")


def run_to_exit(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`casting <command>` in a process of its own, run until it exits; its output as text."""
    return subprocess.run(
        [sys.executable, "-m", "casting.server.cli", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_migrates_the_embedded_database_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = os.environ | {
        "CASTING_HOST": "127.0.0.1",
        "CASTING_PORT": str(port),
        "CASTING_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'var' / 'casting.db'}",
        "CASTING_BLOB_URL": f"file://{tmp_path / 'var' / 'blobs'}",
        "CASTING_GRACE_PERIOD_SECONDS": "2",
        "CASTING_CONSOLE_PORT": "0",  # the console's own test binds it (test_console_process.py)
    }
    env.pop("GEMINI_API_KEY", None)
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "casting.server.cli", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_until_serving(port, process)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = casting_pb2_grpc.CastingServiceStub(channel)
            sheet = stub.GenerateSheet(
                pb.GenerateSheetRequest(parent="projects/p", story_style="comedy", image_style="chibi"),
                timeout=30,
            )
            assert sheet.generation.generator == "offline"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    output = (tmp_path / "server.log").read_text()
    assert "offline generator" in output
    assert (tmp_path / "var" / "casting.db").exists()


def test_serve_exits_when_start_up_fails_after_the_metrics_endpoint_opened(tmp_path: Path) -> None:
    env = os.environ | {
        "CASTING_HOST": "127.0.0.1",
        "CASTING_PORT": str(free_port()),
        "CASTING_METRICS_PORT": str(free_port()),
        "CASTING_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'casting.db'}",
        "CASTING_BLOB_URL": f"file://{tmp_path / 'blobs'}",
        "CASTING_CONSOLE_PORT": "0",
        "CASTING_GENERATOR": "gemini",  # and no key: the model client refuses to start
    }
    env.pop("GEMINI_API_KEY", None)

    finished = run_to_exit("serve", env)

    assert finished.returncode != 0
    assert "API key" in finished.stderr


@pytest.mark.parametrize("command", ["serve", "migrate", "collect"])
def test_a_database_out_of_reach_is_one_line_naming_it_without_its_password(
    command: str, tmp_path: Path
) -> None:
    closed = free_port()  # nothing listens there
    env = os.environ | {
        "CASTING_HOST": "127.0.0.1",
        "CASTING_PORT": str(free_port()),
        "CASTING_CONSOLE_PORT": "0",
        "CASTING_DATABASE_URL": f"postgresql+asyncpg://casting:not-for-logs@127.0.0.1:{closed}/casting",
        "CASTING_BLOB_URL": f"file://{tmp_path / 'blobs'}",
    }

    finished = run_to_exit(command, env)

    assert finished.returncode == 1
    assert finished.stderr.splitlines() == [
        f"casting: the database postgresql+asyncpg://casting:***@127.0.0.1:{closed}/casting is out of reach: "
        f"[Errno 111] Connect call failed ('127.0.0.1', {closed})"
    ]


def test_an_embedded_database_that_cannot_be_made_is_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "var").write_text("a file where the database's directory should be")
    url = f"sqlite+aiosqlite:///{tmp_path / 'var' / 'casting.db'}"
    env = os.environ | {
        "CASTING_PORT": str(free_port()),
        "CASTING_CONSOLE_PORT": "0",
        "CASTING_DATABASE_URL": url,
    }

    finished = run_to_exit("serve", env)

    assert finished.returncode == 1
    assert finished.stderr.splitlines() == [
        f"casting: the database {url} is out of reach: [Errno 17] File exists: '{tmp_path / 'var'}'"
    ]


def test_a_database_that_never_answers_is_given_up_after_the_connect_timeout() -> None:
    silent = socket.create_server(("127.0.0.1", 0))  # takes connections, never answers one
    with silent:
        url = f"postgresql+asyncpg://casting@127.0.0.1:{silent.getsockname()[1]}/casting"
        env = os.environ | {
            "CASTING_PORT": str(free_port()),
            "CASTING_CONSOLE_PORT": "0",
            "CASTING_DATABASE_URL": url,
            "CASTING_DATABASE_CONNECT_TIMEOUT_SECONDS": "1",  # asyncpg's own is 60 s
        }

        finished = run_to_exit("serve", env)

    assert finished.returncode == 1
    assert finished.stderr.splitlines() == [f"casting: the database {url} is out of reach: no answer in time"]


def test_a_setting_that_cannot_be_read_is_one_line_naming_its_variable() -> None:
    env = os.environ | {"CASTING_PORT": "fifty", "CASTING_CONSOLE_PORT": "0"}

    finished = run_to_exit("serve", env)

    assert finished.returncode == 1
    assert finished.stderr.splitlines() == [
        "casting: CASTING_PORT: Input should be a valid integer, unable to parse string as an integer"
    ]
