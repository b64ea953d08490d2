"""The real service in-process (the production container and `running()`, as the e2e tests
wire it), with the image model replaced by a stand-in of known latency."""

from __future__ import annotations

import asyncio
import io
import struct
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import grpc
from dependency_injector import providers
from PIL import Image

from casting.adapters.sql.migrate import upgrade_to_head
from casting.domain.ports import GeneratedImage, GenerationSpec
from casting.domain.values import ImageBytes
from casting.server.container import Container
from casting.server.heap import return_large_blocks
from casting.server.main import freeze_startup_heap, running
from casting.server.settings import Settings
from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc

PROJECT = "bench"
PARENT = f"projects/{PROJECT}"
SHEET_SIZE = (768, 1344)
TRAITS = pb.Traits(
    gender=pb.GENDER_FEMALE,
    age_range=pb.AGE_RANGE_YOUNG_ADULT,
    face_traits="round face, freckles",
    hair_traits="short silver bob",
    outfit="red hoodie, jeans",
    mood="cheerful",
)


def generate_request(request_id: str) -> pb.GenerateSheetRequest:
    return pb.GenerateSheetRequest(
        parent=PARENT, story_style="romance", image_style="webtoon", traits=TRAITS, request_id=request_id
    )


def sheet_png() -> bytes:
    """A 768x1344 PNG of the size issue 17 gives for a Gemini sheet (~1.5 MB; ~2 MB as base64 in
    JSON): texture, not flat colour, so that decoding it costs what decoding a real sheet costs.
    The noise's sigma sets the size (48 gave 1.8 MB, 33 gives 1.5 MB)."""
    noise = Image.effect_noise(SHEET_SIZE, 33).convert("RGB")
    gradient = Image.linear_gradient("L").resize(SHEET_SIZE).convert("RGB")
    out = io.BytesIO()
    Image.blend(noise, gradient, 0.5).save(out, format="PNG")
    return out.getvalue()


def stamped(png: bytes, stamp: int) -> bytes:
    """The PNG with a text chunk carrying `stamp` before IEND: still valid, different bytes, so
    that every call stores a new blob (the real write path) instead of touching one file."""
    body = b"tEXt" + b"bench\x00" + str(stamp).encode()
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    whole = memoryview(png)
    return b"".join((whole[:-12], chunk, whole[-12:]))  # one copy of the image, not three


class StandInGenerator:
    """An ImageGenerator that waits `latency_seconds` (asynchronously, as a remote model does)
    and returns the prepared PNG."""

    def __init__(self, png: bytes, latency_seconds: float) -> None:
        self._png = png
        self._latency = latency_seconds
        self._stamps = count()

    async def generate(self, spec: GenerationSpec, references: list[ImageBytes]) -> GeneratedImage:
        # Stamped before the wait: the stand-in's own copying is not the service's work, and
        # after it, a burst would do it all at once on the service's event loop.
        data = stamped(self._png, next(self._stamps))
        if self._latency:
            await asyncio.sleep(self._latency)
        return GeneratedImage(
            data=data,
            mime_type="image/png",
            generator="bench",
            model="stand-in",
            prompt_version="bench",
            prompt_sha256="0" * 64,
        )


@dataclass
class Served:
    container: Container
    port: int
    channel: grpc.aio.Channel
    stub: casting_pb2_grpc.CastingServiceStub

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


async def sqlite_url(directory: Path) -> str:
    url = f"sqlite+aiosqlite:///{directory / 'casting.db'}"
    await upgrade_to_head(url)
    return url


@asynccontextmanager
async def service(
    database_url: str,
    directory: Path,
    model: object | None = None,
    overrides: dict[str, object] | None = None,
    **settings: Any,
) -> AsyncIterator[Served]:
    """The real server on a free port over `database_url`, blobs under `directory`; `model`
    replaces the image model when given, and `overrides` other providers by name. Verification
    is off unless `settings` turn it on: the stand-in's pictures are no offline drawings for the
    offline judge to measure."""
    return_large_blocks()  # the heap as `casting serve` sets it, once for the process
    container = Container()
    base = Settings(
        host="127.0.0.1",
        port=0,
        database_url=database_url,
        blob_url=f"file://{directory / 'blobs'}",
        generator="offline",
        verify="off",
        grace_period_seconds=1,
        # No web console (it would bind a fixed port) and no background collection.
        console_port=0,
        collect_interval_seconds=0,
    )
    # model_copy: settings read from the environment under another name (GEMINI_API_KEY) too.
    container.settings.override(base.model_copy(update=settings))
    if model is not None:
        container.model.override(providers.Object(model))
    for name, replacement in (overrides or {}).items():
        getattr(container, name).override(providers.Object(replacement))
    async with running(container) as live, grpc.aio.insecure_channel(f"127.0.0.1:{live.port}") as channel:
        await channel.channel_ready()
        freeze_startup_heap()  # as `casting serve` does once it is up
        yield Served(container, live.port, channel, casting_pb2_grpc.CastingServiceStub(channel))


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


async def sequential(call: Callable[[], Awaitable[object]], times: int, warmup: int = 5) -> list[float]:
    """Seconds per call of `times` calls made one after another, after `warmup` unmeasured ones."""
    for _ in range(warmup):
        await call()
    return [await timed(call) for _ in range(times)]
