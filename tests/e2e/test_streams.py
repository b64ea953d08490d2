"""Streams under a client that stops reading, with a raw HTTP/2 client that grants no window: the
server advertises its stream limit, streams images in small chunks, ends a stalled stream after
CASTING_STREAM_STALL_SECONDS and lets go of its file, and a cancelled call is logged and counted
as CANCELLED, without a traceback."""

from __future__ import annotations

import asyncio
import io
import logging
import math
import os
from pathlib import Path

import h2.settings
import pytest
from PIL import Image as PILImage

from casting.server.container import Container
from casting.server.main import RunningServer
from casting.v1 import casting_pb2 as pb
from tests.e2e.test_flow import P, read_image
from tests.support.stalled_client import StalledClient
from tests.support.waiting import until

READ_IMAGE = "/casting.v1.CastingService/ReadImage"
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def container(container: Container, request: pytest.FixtureRequest) -> Container:
    # Half a second unless a test says otherwise.
    streams = {"max_streams_per_connection": 7, "stream_stall_seconds": getattr(request, "param", 0.5)}
    container.settings.override(container.settings().model_copy(update=streams))
    return container


def open_blobs(container: Container) -> int:
    """Blob files this process (the server's) holds open now."""
    root = str(Path(container.settings().blob_url.removeprefix("file://")).resolve())
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith(root)
        except FileNotFoundError:  # closed since the directory was read
            continue
    return count


async def big_image(stub) -> str:
    """An image far larger than any HTTP/2 window: its first chunk cannot go out unread."""
    noise = PILImage.effect_noise((720, 720), 100).convert("RGB")
    buffer = io.BytesIO()
    noise.save(buffer, format="PNG")
    actor = await stub.ImportActor(
        pb.ImportActorRequest(parent=P, image_content=buffer.getvalue(), display_name="Noise")
    )
    return actor.variants[0].reference_image.name


async def test_the_server_advertises_its_stream_limit(server: RunningServer) -> None:
    client = await asyncio.to_thread(StalledClient, server.port)
    try:
        assert client.settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] == 7
    finally:
        client.close()


async def test_an_image_streams_in_chunks_of_at_most_256_kib(stub) -> None:
    # A stream whose client reads nothing holds the chunk gRPC accepted, with its copies, until
    # that client reads or leaves: the chunk's size bounds it (bench's `stalled` section).
    image = await big_image(stub)

    chunks, data = await read_image(stub, image)

    assert max(len(chunk.data) for chunk in chunks) == 256 * 1024
    assert len(chunks) == math.ceil(len(data) / (256 * 1024)) > 1


async def test_a_stalled_stream_is_ended_and_lets_go_of_its_file(
    stub, server: RunningServer, container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    image = await big_image(stub)
    client = await asyncio.to_thread(StalledClient, server.port)
    try:
        for _ in range(5):
            client.call(READ_IMAGE, pb.ReadImageRequest(name=image))
        await until(lambda: open_blobs(container) == 5)  # each is stuck in its first write

        await until(lambda: len(rpc_lines(caplog)) == 5)
        # The log line is written as the call ends; the file may close a moment after it.
        await until(lambda: open_blobs(container) == 0)
        assert [line.code for line in rpc_lines(caplog)] == ["CANCELLED"] * 5
        stalled = [r for r in caplog.records if r.getMessage().startswith("ended a stream whose client")]
        assert len(stalled) == 5
        _, data = await read_image(stub, image)  # a reading client is served as ever
        assert data
    finally:
        client.close()


def rpc_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == "rpc" and r.method == READ_IMAGE]


@pytest.mark.parametrize("container", [3600], indirect=True)  # only the cancel ends it
async def test_a_cancelled_call_is_logged_and_counted_as_cancelled_without_a_traceback(
    stub, server: RunningServer, container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    image = await big_image(stub)
    client = await asyncio.to_thread(StalledClient, server.port)
    try:
        stream = client.call(READ_IMAGE, pb.ReadImageRequest(name=image))
        await until(lambda: open_blobs(container) == 1)

        client.cancel(stream)

        registry = container.metrics().registry
        labels = {"method": READ_IMAGE, "code": "CANCELLED"}
        await until(lambda: registry.get_sample_value("casting_rpcs_total", labels) == 1)
    finally:
        client.close()
    await until(lambda: open_blobs(container) == 0)
    [line] = rpc_lines(caplog)
    assert line.code == "CANCELLED"
    assert registry.get_sample_value("casting_rpcs_total", {"method": READ_IMAGE, "code": "OK"}) is None
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []
