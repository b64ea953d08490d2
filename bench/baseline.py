"""The seed's design, rebuilt minimally as the baseline for generation concurrency: a
synchronous grpc.server on a ThreadPoolExecutor of default size, whose GenerateSheet handler
hands the blocking model call to the event loop's default thread pool
(`loop.run_in_executor(None, ...)`) and then does the same work as the service: check the
image, write the blob, insert a row."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc

from bench.harness import PROJECT, stamped
from casting.adapters.blobs.local import LocalBlobStore
from casting.adapters.decoding import MIB, DecodingPool
from casting.adapters.images import PillowImageCodec
from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc


class SeedStyleServicer(casting_pb2_grpc.CastingServiceServicer):
    def __init__(self, png: bytes, latency_seconds: float, directory: Path, loop: asyncio.AbstractEventLoop):
        self._png = png
        self._latency = latency_seconds
        self._loop = loop
        self._codec = PillowImageCodec(DecodingPool(256 * MIB, threads=2))
        self._blobs = LocalBlobStore(directory / "blobs")
        self._database = directory / "seed.db"
        with sqlite3.connect(self._database) as db:
            db.execute("CREATE TABLE images (id TEXT PRIMARY KEY, project TEXT, sha256 TEXT, size INTEGER)")
        self._stamp = iter(range(1_000_000_000))
        self._stamp_lock = threading.Lock()

    def _blocking_model_call(self) -> bytes:
        with self._stamp_lock:  # before the wait, as the service's stand-in does
            data = stamped(self._png, next(self._stamp))
        time.sleep(self._latency)
        return data

    async def _draw(self) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(None, self._blocking_model_call)

    def GenerateSheet(self, request: pb.GenerateSheetRequest, context: Any) -> pb.Sheet:
        data = asyncio.run_coroutine_threadsafe(self._draw(), self._loop).result()
        facts = asyncio.run_coroutine_threadsafe(self._codec.inspect(data), self._loop).result()
        key = asyncio.run_coroutine_threadsafe(self._blobs.put(data), self._loop).result()
        image_id = str(uuid.uuid4())
        with sqlite3.connect(self._database, timeout=30) as db:
            db.execute("INSERT INTO images VALUES (?, ?, ?, ?)", (image_id, PROJECT, key, len(data)))
        return pb.Sheet(
            name=f"projects/{PROJECT}/sheets/{uuid.uuid4()}",
            image=pb.Image(
                name=f"projects/{PROJECT}/images/{image_id}",
                mime_type=facts.mime_type,
                width=facts.width,
                height=facts.height,
                size_bytes=len(data),
                sha256=key,
            ),
        )


@contextmanager
def seed_style_server(png: bytes, latency_seconds: float, directory: Path) -> Iterator[int]:
    """The baseline serving on a free port (yielded) until the block ends."""
    loop = asyncio.new_event_loop()
    loop_thread = threading.Thread(target=loop.run_forever, daemon=True)
    loop_thread.start()
    server = grpc.server(futures.ThreadPoolExecutor())
    casting_pb2_grpc.add_CastingServiceServicer_to_server(
        SeedStyleServicer(png, latency_seconds, directory, loop), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield port
    finally:
        server.stop(None).wait()
        loop.call_soon_threadsafe(loop.stop)
        loop_thread.join()
        loop.close()
