"""Memory: the peak resident set of the server, run as its own process (`python -m
casting.server.cli serve`), while 1 and then 20 clients each read a 5 MB image 10 times.
ReadImage streams 1 MiB chunks, so the peak should not grow with the number of readers
beyond a few chunks each."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from PIL import Image

from bench.harness import PARENT
from bench.report import Report
from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc

SECTION = "memory"
IMAGE_SIDE = 1300  # noise of this side is a ~5 MB PNG
READS_PER_CLIENT = 10


def noise_png() -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (IMAGE_SIDE, IMAGE_SIDE), os.urandom(IMAGE_SIDE * IMAGE_SIDE * 3)).save(out, "PNG")
    return out.getvalue()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def status_kib(pid: int, field: str) -> int:
    """A VmRSS/VmHWM-style field of /proc/<pid>/status, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


class RssSampler:
    """Samples VmRSS every few milliseconds while running; `peak` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self.peak = 0

    async def sample(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.peak = max(self.peak, status_kib(self._pid, "VmRSS"))
            await asyncio.sleep(0.005)


def _start_server(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """`python -m casting.server.cli serve` with `env`, its output to `log_path`."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "casting.server.cli", "serve"], env=env, stdout=log, stderr=log
        )


async def _wait_serving(channel: grpc.aio.Channel, process: subprocess.Popen[bytes]) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError("the server exited at start; see its log")
        try:
            if (await health.Check(health_pb2.HealthCheckRequest(), timeout=1)).status == 1:
                return
        except grpc.aio.AioRpcError:
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not become SERVING")


async def _read(stub: casting_pb2_grpc.CastingServiceStub, name: str) -> int:
    size = 0
    for _ in range(READS_PER_CLIENT):
        async for chunk in stub.ReadImage(pb.ReadImageRequest(name=name)):
            size += len(chunk.data)
    return size


async def _peak_while_reading(pid: int, address: str, name: str, clients: int) -> tuple[int, float]:
    """(peak VmRSS KiB, MB/s read) while `clients` channels each read the image 10 times."""
    sampler, stop = RssSampler(pid), asyncio.Event()
    sampling = asyncio.create_task(sampler.sample(stop))
    channels = [grpc.aio.insecure_channel(address, options=[("grpc.max_receive_message_length", 8 << 20)])
                for _ in range(clients)]  # fmt: skip
    try:
        started = time.perf_counter()
        sizes = await asyncio.gather(*(_read(casting_pb2_grpc.CastingServiceStub(c), name) for c in channels))
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        await sampling
        for channel in channels:
            await channel.close()
    return sampler.peak, sum(sizes) / elapsed / 1e6


async def memory(report: Report, client_counts: tuple[int, ...]) -> None:
    print(f"\n[{SECTION}] server process RSS while clients each read a 5 MB image {READS_PER_CLIENT} times")
    picture = noise_png()
    with tempfile.TemporaryDirectory(prefix="casting-bench-") as tmp:
        port = _free_port()
        env = {
            **os.environ,
            "CASTING_HOST": "127.0.0.1",
            "CASTING_PORT": str(port),
            "CASTING_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/casting.db",
            "CASTING_BLOB_URL": f"file://{tmp}/blobs",
            "CASTING_GENERATOR": "offline",
            "CASTING_MAX_UPLOAD_BYTES": str(8 * 1024 * 1024),
            "CASTING_CONSOLE_PORT": "0",
        }
        process = _start_server(env, Path(tmp) / "server.log")
        address = f"127.0.0.1:{port}"
        try:
            async with grpc.aio.insecure_channel(
                address, options=[("grpc.max_send_message_length", 16 << 20)]
            ) as channel:
                await _wait_serving(channel, process)
                stub = casting_pb2_grpc.CastingServiceStub(channel)
                actor = await stub.ImportActor(
                    pb.ImportActorRequest(parent=PARENT, image_content=picture, display_name="Noise")
                )
            image = actor.variants[0].reference_image
            report.add(SECTION, "image read", image.size_bytes / 1e6, "MB")
            idle = status_kib(process.pid, "VmRSS")
            report.add(SECTION, "server RSS after the import, idle", idle / 1024, "MiB")
            peaks = {}
            for clients in client_counts:
                peak, rate = await _peak_while_reading(process.pid, address, image.name, clients)
                peaks[clients] = peak
                report.add(
                    SECTION,
                    f"peak RSS, {clients:>2} clients reading",
                    peak / 1024,
                    "MiB",
                    f"{rate:,.0f} MB/s",
                )
            report.add(
                SECTION, "VmHWM (process lifetime peak)", status_kib(process.pid, "VmHWM") / 1024, "MiB"
            )
            first, last = client_counts[0], client_counts[-1]
            report.add(
                SECTION,
                f"peak growth from {first} to {last} clients",
                (peaks[last] - peaks[first]) / 1024,
                "MiB",
            )
            report.add(SECTION, f"peak at {last} / peak at {first} clients", peaks[last] / peaks[first], "x")
        finally:
            process.terminate()
            process.wait(timeout=30)
