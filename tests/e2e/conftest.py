"""The real server in-process on a free port, wired by the real container, called through the
generated stub over a real channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from casting.server.container import Container
from casting.server.main import RunningServer, running
from casting.server.settings import Settings
from casting.v1 import casting_pb2_grpc
from tests.support.fake_gemini import FakeGemini


@pytest.fixture
def container(tmp_path: Path, database_url: str) -> Container:
    """The production container on a fresh database and blob directory, offline generator."""
    container = Container()
    container.settings.override(
        Settings(
            host="127.0.0.1",
            port=0,
            database_url=database_url,
            blob_url=f"file://{tmp_path / 'blobs'}",
            generator="offline",
            grace_period_seconds=1,
            max_upload_bytes=2 * 1024 * 1024,
            console_port=0,  # off: tests of the console turn it on (test_console_http.py)
        )
    )
    return container


def drawing_with_gemini(container: Container, fake: FakeGemini, **settings: object) -> Container:
    """The container with CASTING_GENERATOR=gemini: the real SDK, pointed at the local fake."""
    gemini = {"generator": "gemini", "gemini_api_key": "test-key-not-real", "gemini_base_url": fake.base_url}
    container.settings.override(container.settings().model_copy(update=gemini | settings))
    return container


@pytest.fixture
async def server(container: Container) -> AsyncIterator[RunningServer]:
    async with running(container) as live:
        yield live


@pytest.fixture
async def channel(server: RunningServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield channel


@pytest.fixture
def stub(channel: grpc.aio.Channel) -> casting_pb2_grpc.CastingServiceStub:
    return casting_pb2_grpc.CastingServiceStub(channel)
