"""Memory: the peak resident set of the server, run as its own process (`python -m
casting.server.cli serve`), while 1 and then 20 clients each read a 5 MB image 10 times.
ReadImage streams 256 KiB chunks, so the peak should not grow with the number of readers
beyond a few chunks each."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib
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


def free_port() -> int:
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


def start_server(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """`python -m casting.server.cli serve` with `env`, its output to `log_path`."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "casting.server.cli", "serve"], env=env, stdout=log, stderr=log
        )


async def wait_serving(channel: grpc.aio.Channel, process: subprocess.Popen[bytes]) -> None:
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
        port = free_port()
        process = start_server(_serve_env(tmp, port), Path(tmp) / "server.log")
        address = f"127.0.0.1:{port}"
        try:
            async with grpc.aio.insecure_channel(
                address, options=[("grpc.max_send_message_length", 16 << 20)]
            ) as channel:
                await wait_serving(channel, process)
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


BOMB_SIZE = (8_000, 5_000)  # 40 megapixels, the bomb
BELOW_LIMIT_SIZE = (6_000, 5_000)  # 30 megapixels: accepted, so decoded


def zero_png(width: int, height: int) -> bytes:
    """An RGB PNG of black pixels: 40 megapixels compress to ~120 KB."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    packer = zlib.compressobj(9)
    row = b"\0" * (3 * width + 1)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def _serve_env(tmp: str, port: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "CASTING_HOST": "127.0.0.1",
        "CASTING_PORT": str(port),
        "CASTING_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/casting.db",
        "CASTING_BLOB_URL": f"file://{tmp}/blobs",
        "CASTING_GENERATOR": "offline",
        "CASTING_MAX_UPLOAD_BYTES": str(8 * 1024 * 1024),
        "CASTING_CONSOLE_PORT": "0",
        **extra,
    }


async def _upload_at_once(stub: casting_pb2_grpc.CastingServiceStub, picture: bytes, count: int) -> str:
    """`count` ImportActor calls of `picture` at once; how they ended, e.g. "8 INVALID_ARGUMENT"."""

    async def one() -> str:
        request = pb.ImportActorRequest(parent=PARENT, image_content=picture, display_name="Bomb")
        try:
            await stub.ImportActor(request, timeout=600)
        except grpc.aio.AioRpcError as error:
            return error.code().name
        return "OK"

    codes = await asyncio.gather(*(one() for _ in range(count)))
    return ", ".join(f"{codes.count(code)} {code}" for code in sorted(set(codes)))


async def bombs(report: Report, count: int = 8) -> None:
    """Peak RSS of the server while `count` clients upload a 40 MP PNG of ~120 KB at once (and
    then a 30 MP one, under the limit), and RSS once they have all been answered."""
    section = "bombs"
    print(f"\n[{section}] server process RSS while {count} clients upload decompression bombs at once")
    with tempfile.TemporaryDirectory(prefix="casting-bench-") as tmp:
        port = free_port()
        process = start_server(_serve_env(tmp, port), Path(tmp) / "server.log")
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                await wait_serving(channel, process)
                stub = casting_pb2_grpc.CastingServiceStub(channel)
                await stub.ListStyles(pb.ListStylesRequest())
                idle = status_kib(process.pid, "VmRSS")
                report.add(section, "server RSS idle", idle / 1024, "MiB")
                for label, size in (("40 MP", BOMB_SIZE), ("30 MP", BELOW_LIMIT_SIZE)):
                    picture = zero_png(*size)
                    sampler, stop = RssSampler(process.pid), asyncio.Event()
                    sampling = asyncio.create_task(sampler.sample(stop))
                    outcome = await _upload_at_once(stub, picture, count)
                    stop.set()
                    await sampling
                    after = status_kib(process.pid, "VmRSS")
                    kb = f"{len(picture) / 1000:,.0f} KB each: {outcome}"
                    report.add(
                        section, f"peak RSS, {count} x {label} PNG at once", sampler.peak / 1024, "MiB", kb
                    )
                    report.add(section, f"RSS once all {count} x {label} are answered", after / 1024, "MiB")
                    report.add(section, f"  peak over idle, {label}", (sampler.peak - idle) / 1024, "MiB")
                    report.add(section, f"  left over idle, {label}", (after - idle) / 1024, "MiB")
        finally:
            process.terminate()
            process.wait(timeout=30)


def _real(path: str) -> str:
    return os.path.realpath(path)


def open_files_under(pid: int, directory: str) -> int:
    """Files under `directory` the process holds open."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith(directory)
        except FileNotFoundError:
            continue
    return count


async def stalled(report: Report, streams: int = 300, stall_seconds: float = 10.0) -> None:
    """RSS and open blob files of the server while `streams` ReadImage calls of a 5 MB image sit
    on connections that grant no HTTP/2 window (tests/support/stalled_client.py), before and
    after CASTING_STREAM_STALL_SECONDS, and once the clients have gone."""
    from tests.support.stalled_client import StalledClient  # the bench borrows the tests' client

    section = "stalled"
    print(f"\n[{section}] server process RSS with {streams} ReadImage streams whose client reads nothing")
    per_connection = 100  # the default stream limit
    with tempfile.TemporaryDirectory(prefix="casting-bench-") as tmp:
        port = free_port()
        env = _serve_env(tmp, port, CASTING_STREAM_STALL_SECONDS=str(stall_seconds))
        process = start_server(env, Path(tmp) / "server.log")
        blobs = _real(os.path.join(tmp, "blobs"))
        clients: list[StalledClient] = []
        try:
            async with grpc.aio.insecure_channel(
                f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", 16 << 20)]
            ) as channel:
                await wait_serving(channel, process)
                actor = await casting_pb2_grpc.CastingServiceStub(channel).ImportActor(
                    pb.ImportActorRequest(parent=PARENT, image_content=noise_png(), display_name="Noise")
                )
            name = actor.variants[0].reference_image.name
            idle = status_kib(process.pid, "VmRSS")
            report.add(section, "server RSS idle, after the import", idle / 1024, "MiB")
            sampler, stop = RssSampler(process.pid), asyncio.Event()
            sampling = asyncio.create_task(sampler.sample(stop))
            for _ in range(0, streams, per_connection):
                client = await asyncio.to_thread(StalledClient, port)
                clients.append(client)
                for _ in range(per_connection):
                    client.call("/casting.v1.CastingService/ReadImage", pb.ReadImageRequest(name=name))
            held = 0
            for _ in range(100):  # until every stream has its file open, or the stall has begun
                await asyncio.sleep(0.05)
                held = max(held, open_files_under(process.pid, blobs))
                if held == streams:
                    break
            report.add(section, f"blob files open, {streams} streams stalled", held, "")
            await asyncio.sleep(stall_seconds + 2)
            report.add(
                section,
                f"blob files open {stall_seconds + 2:g} s later, clients still there",
                open_files_under(process.pid, blobs),
                "",
            )
            report.add(section, "RSS then", status_kib(process.pid, "VmRSS") / 1024, "MiB")
            stop.set()
            await sampling
            report.add(section, f"peak RSS, {streams} streams stalled", sampler.peak / 1024, "MiB")
            report.add(section, "  peak over idle", (sampler.peak - idle) / 1024, "MiB")
            for client in clients:
                client.close()
            clients.clear()
            await asyncio.sleep(2)
            report.add(
                section, "RSS 2 s after the clients left", status_kib(process.pid, "VmRSS") / 1024, "MiB"
            )
            report.add(section, "blob files open then", open_files_under(process.pid, blobs), "")
        finally:
            for client in clients:
                client.close()
            process.terminate()
            process.wait(timeout=30)
