"""The console over plain HTTP (no browser): images with caching headers, thumbnails made once,
failures as pages in plain words, and the console of `casting serve` as an operator starts it."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import grpc
import pytest
from PIL import Image

from casting.server.container import Container
from casting.server.main import RunningServer, running
from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.e2e.conftest import drawing_with_gemini
from tests.support.console import ConsoleClient, console_client
from tests.support.fake_gemini import FakeGemini
from tests.support.ports import free_port

PROJECT = "studio"


@pytest.fixture
def container(container: Container) -> Container:
    """The e2e tier's container, with the console on a free port."""
    settings = container.settings().model_copy(update={"console_port": free_port()})
    container.settings.override(settings)
    return container


@pytest.fixture
async def http(server: RunningServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(f"http://127.0.0.1:{server.console_port}") as session:
        yield session


@pytest.fixture
async def console(server: RunningServer) -> AsyncIterator[ConsoleClient]:
    async with console_client(f"http://127.0.0.1:{server.console_port}") as client:
        yield client


async def a_sheet(stub: casting_pb2_grpc.CastingServiceStub) -> pb.Image:
    sheet = await stub.GenerateSheet(
        pb.GenerateSheetRequest(parent=f"projects/{PROJECT}", story_style="romance", image_style="webtoon")
    )
    return sheet.image


def image_id(image: pb.Image) -> str:
    return image.name.rsplit("/", 1)[-1]


async def a_thumbnail_path(stub: casting_pb2_grpc.CastingServiceStub, width: int) -> str:
    return f"/projects/{PROJECT}/images/{image_id(await a_sheet(stub))}/thumbnails/{width}"


def stored_blobs(tmp_path: Path) -> dict[Path, int]:
    """Every blob file with its modification time: a blob written again is touched."""
    return {p: p.stat().st_mtime_ns for p in (tmp_path / "blobs").rglob("*") if p.is_file()}


async def test_an_image_is_sent_with_its_sha256_as_etag_and_revalidates_to_304(
    http: aiohttp.ClientSession, stub: casting_pb2_grpc.CastingServiceStub
) -> None:
    image = await a_sheet(stub)
    path = f"/projects/{PROJECT}/images/{image_id(image)}"

    async with http.get(path) as response:
        body = await response.read()
        assert response.status == 200
        assert response.headers["ETag"] == f'"{image.sha256}"'
        assert "immutable" in response.headers["Cache-Control"]
        assert response.content_type == "image/png"
    assert hashlib.sha256(body).hexdigest() == image.sha256

    async with http.get(path, headers={"If-None-Match": f'"{image.sha256}"'}) as response:
        assert response.status == 304
        assert await response.read() == b""
    async with http.get(path, headers={"If-None-Match": '"another"'}) as response:
        assert response.status == 200


async def test_a_thumbnail_is_made_once_and_then_read(
    http: aiohttp.ClientSession, stub: casting_pb2_grpc.CastingServiceStub, tmp_path: Path
) -> None:
    path = await a_thumbnail_path(stub, 240)
    before = stored_blobs(tmp_path)

    async with http.get(path) as response:
        first = await response.read()
        assert response.status == 200
        assert response.content_type == "image/webp"
        etag = response.headers["ETag"]
    made = stored_blobs(tmp_path)
    assert len(made) == len(before) + 1
    assert Image.open(io.BytesIO(first)).size == (240, 420)  # 9:16, as the sheet

    async with http.get(path) as response:
        assert await response.read() == first
        assert response.headers["ETag"] == etag
    assert stored_blobs(tmp_path) == made  # not written again, not even touched
    async with http.get(path, headers={"If-None-Match": etag}) as response:
        assert response.status == 304


async def test_a_thumbnail_whose_blob_was_collected_is_made_again(
    http: aiohttp.ClientSession, stub: casting_pb2_grpc.CastingServiceStub, tmp_path: Path
) -> None:
    path = await a_thumbnail_path(stub, 480)
    before = stored_blobs(tmp_path)
    async with http.get(path) as response:
        first = await response.read()
    (thumbnail,) = set(stored_blobs(tmp_path)) - set(before)
    thumbnail.unlink()  # as a garbage collector that does not know thumbnails would

    async with http.get(path) as response:
        assert response.status == 200
        assert await response.read() == first
    assert thumbnail.read_bytes() == first


async def test_an_image_of_another_project_and_an_unknown_width_are_refused(
    http: aiohttp.ClientSession, stub: casting_pb2_grpc.CastingServiceStub
) -> None:
    image = image_id(await a_sheet(stub))

    async with http.get(f"/projects/elsewhere/images/{image}") as response:
        assert response.status == 404
        assert "That picture was not found." in await response.text()
    async with http.get(f"/projects/{PROJECT}/images/{image}/thumbnails/300") as response:
        assert response.status == 400
        assert "must be one of 240, 480" in await response.text()


async def test_failures_are_pages_in_plain_words(
    console: ConsoleClient, stub: casting_pb2_grpc.CastingServiceStub
) -> None:
    sheet = await stub.GenerateSheet(
        pb.GenerateSheetRequest(parent=f"projects/{PROJECT}", story_style="comedy", image_style="chibi")
    )
    actor = await stub.SaveActor(
        pb.SaveActorRequest(parent=f"projects/{PROJECT}", sheet=sheet.name, display_name="Jun")
    )
    default = actor.variants[0].name.removeprefix(f"projects/{PROJECT}")
    await console.page(f"/{actor.name}/delete")  # a page with a form: its CSRF token

    # The page disables this button; a hand-made post meets the domain's rule all the same.
    async with await console.post(f"/projects/{PROJECT}{default}/delete") as response:
        assert response.status == 409
        assert "The default look cannot be deleted." in await response.text()
    status, text = await console.page("/projects/Not_A_Project/actors")
    assert (status, "Project must be 1 to 63 lowercase letters" in text) == (400, True)
    status, text = await console.page("/no/such/page")
    assert (status, "There is no such page." in text) == (404, True)
    async with await console.post(
        f"/projects/{PROJECT}{default}/default", headers={"Origin": "http://elsewhere.example"}
    ) as response:
        assert response.status == 403
        assert "sent from another site" in await response.text()


def test_casting_serve_opens_the_console_on_its_port(tmp_path: Path) -> None:
    """What a new user does: the serve command, then the console's address in a browser."""
    console = free_port()
    env = os.environ | {
        "CASTING_HOST": "127.0.0.1",
        "CASTING_PORT": str(free_port()),
        "CASTING_CONSOLE_PORT": str(console),
        "CASTING_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'casting.db'}",
        "CASTING_BLOB_URL": f"file://{tmp_path / 'blobs'}",
        "CASTING_GRACE_PERIOD_SECONDS": "1",
    }
    env.pop("GEMINI_API_KEY", None)
    with (tmp_path / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "casting.server.cli", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        page = _first_answer(f"http://127.0.0.1:{console}/", process)
        assert "<h1>Library" in page
        assert "No actors yet." in page
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert f"casting console at http://localhost:{console}" in (tmp_path / "server.log").read_text()


def _first_answer(url: str, process: subprocess.Popen[bytes], seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while True:
        assert process.poll() is None, "the server exited during start-up"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return str(response.read().decode())
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


async def test_preview_and_look_pages_say_what_the_drawing_cost(
    container: Container, fake_gemini: FakeGemini
) -> None:
    drawing_with_gemini(container, fake_gemini)
    async with (
        running(container) as live,
        grpc.aio.insecure_channel(f"127.0.0.1:{live.port}") as channel,
        aiohttp.ClientSession(f"http://127.0.0.1:{live.console_port}") as http,
    ):
        stub = casting_pb2_grpc.CastingServiceStub(channel)
        parent = f"projects/{PROJECT}"
        sheet = await stub.GenerateSheet(
            pb.GenerateSheetRequest(parent=parent, story_style="romance", image_style="webtoon")
        )
        actor = await stub.SaveActor(
            pb.SaveActorRequest(parent=parent, sheet=sheet.name, display_name="Mina")
        )
        pages = [f"/{sheet.name}", f"/{actor.variants[0].name}"]
        texts = []
        for page in pages:
            async with http.get(page) as response:
                assert response.status == 200
                texts.append(await response.text())

    usage = sheet.generation.usage
    tokens = f"{usage.input_tokens:,} tokens in, {usage.output_tokens:,} out"
    said = f"${usage.cost_micros / 1e6:.4f} · 2 model calls · {tokens}"  # the drawing, its judgement
    assert usage.cost_micros > 0
    assert all(said in text for text in texts)
