"""Generation concurrency and the overhead of one generation.

Concurrency: N GenerateSheet calls at once against a model stand-in that takes 1 s, on the
service and on the seed-style baseline; each figure is the burst's wall time divided by one
call's time on the same server (1.0x would be perfect overlap).

Overhead: with a model that answers at once, a GenerateSheet call is everything but the
model (validation, idempotency, image check, blob write, SQL, mapping), beside a no-op RPC
(the health check on the same server and channel).

Real client: both again with the model as deployed, google-genai's client calling over HTTP a
stand-in of Gemini's REST API in its own process (model_server.py), which answers a sheet the
size Gemini sends after 1 s (or at once): the client's work (building the request, reading and
parsing ~2 MB of JSON, decoding the image) is then the service's too. First in this process
on SQLite, as the sections above, with verification off (the issue's targets) and then on, as
deployed (each drawing sent back to the judge's model, which the stand-in also plays); then, on
PostgreSQL, `casting serve` as operators run it, from one process and from several
(CASTING_PROCESSES), side by side, with the burst's calls spread over as many connections as
calls (the processes share the port by connection). Beside them, the floor: the same burst of
answers fetched and read by a bare client with no service, which no service on this machine can
beat.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import make_url

from bench.baseline import seed_style_server
from bench.cores import CoreSampler
from bench.harness import StandInGenerator, generate_request, sequential, service, sqlite_url, timed
from bench.load import Bursts, answers_burst, burst, load_process
from bench.memory import free_port, start_server, wait_serving
from bench.model_server import fetch_answer, model_server
from bench.report import Report, ms, percentile
from bench.writes import WriteHolds
from casting.adapters.sql.migrate import upgrade_to_head
from casting.v1 import casting_pb2_grpc

SECTION_BURST = "concurrency"
SECTION_OVERHEAD = "overhead"
SECTION_REAL = "real client"
MODEL_SECONDS = 1.0
# The first burst on a fresh server also grows its pools (threads, connections); the second
# is the steady state.
BURSTS = 2
# `casting serve` from one process, then from one per core of this machine.
PROCESS_COUNTS = (1, os.cpu_count() or 2)
SERVING = "casting serving on port"


async def concurrency(report: Report, png: bytes, calls: int) -> None:
    print(f"\n[{SECTION_BURST}] {calls} concurrent GenerateSheet calls, model stand-in {MODEL_SECONDS:.0f} s")
    with tempfile.TemporaryDirectory(prefix="casting-bench-") as tmp, load_process() as loader:
        directory = Path(tmp)
        loop = asyncio.get_running_loop()
        model = StandInGenerator(png, MODEL_SECONDS)
        # The default cap (16 model calls at once) would queue the burst by design; lift it.
        async with service(
            await sqlite_url(directory), directory, model, max_concurrent_generations=calls
        ) as s:
            service_bursts = await loop.run_in_executor(loader, burst, s.address, calls, BURSTS)
        seed_directory = directory / "seed"
        seed_directory.mkdir()
        with seed_style_server(png, MODEL_SECONDS, seed_directory) as port:
            seed_bursts = await loop.run_in_executor(loader, burst, f"127.0.0.1:{port}", calls, BURSTS)
    for label, bursts in (("service", service_bursts), ("seed-style baseline", seed_bursts)):
        report.add(SECTION_BURST, f"{label}: one call", bursts.one, "s")
        for ordinal, wall in zip(("first", "second"), bursts.walls, strict=True):
            report.add(SECTION_BURST, f"{label}: {calls} concurrent calls, {ordinal} burst, wall", wall, "s")
            target = "target <= 1.5x" if label == "service" else ""
            report.add(
                SECTION_BURST, f"{label}: {ordinal} burst wall / one call", wall / bursts.one, "x", target
            )
    first_walls = seed_bursts.walls[0] / service_bursts.walls[0]
    report.add(SECTION_BURST, "baseline wall / service wall, first burst", first_walls, "x")


async def overhead(report: Report, png: bytes, calls: int) -> None:
    print(f"\n[{SECTION_OVERHEAD}] GenerateSheet with a zero-latency model, {calls} calls one at a time")
    with tempfile.TemporaryDirectory(prefix="casting-bench-") as tmp:
        directory = Path(tmp)
        async with service(await sqlite_url(directory), directory, StandInGenerator(png, 0.0)) as s:
            generate = await sequential(
                lambda: s.stub.GenerateSheet(generate_request(str(uuid.uuid4()))), calls
            )
            health = health_pb2_grpc.HealthStub(s.channel)
            noop = await sequential(lambda: health.Check(health_pb2.HealthCheckRequest()), calls)
    generate_p50, _ = report.latencies(SECTION_OVERHEAD, "GenerateSheet (all but the model)", generate)
    noop_p50, _ = report.latencies(SECTION_OVERHEAD, "no-op RPC (health Check)", noop)
    report.add(
        SECTION_OVERHEAD, "GenerateSheet p50 / no-op p50", generate_p50 / noop_p50, "x", "target p50 <= 10 ms"
    )


def _gemini(base_url: str) -> dict[str, Any]:
    """Settings for the model as deployed, pointed at the stand-in."""
    return {"generator": "gemini", "gemini_api_key": "bench-not-a-key", "gemini_base_url": base_url}


async def real_client(report: Report, png: bytes, calls: int, sequential_calls: int) -> None:
    print(
        f"\n[{SECTION_REAL}] google-genai over HTTP to a stand-in answering after {MODEL_SECONDS:.0f} s:"
        f" {calls} concurrent GenerateSheet; then {sequential_calls} one at a time, answered at once"
    )
    with tempfile.TemporaryDirectory(prefix="casting-bench-") as tmp, load_process() as loader:
        directory = Path(tmp)
        loop = asyncio.get_running_loop()
        database_url = await sqlite_url(directory)
        with model_server(png, MODEL_SECONDS) as url:
            async with service(
                database_url, directory, max_concurrent_generations=calls, **_gemini(url)
            ) as s:
                with CoreSampler() as cores, WriteHolds() as writes:
                    bursts = await loop.run_in_executor(loader, burst, s.address, calls, BURSTS)
            with CoreSampler() as bare_cores:
                bare = await loop.run_in_executor(loader, answers_burst, url, calls, BURSTS)
            # As deployed: every drawing judged (its sheet sent back to the judge's model).
            async with service(
                database_url, directory, max_concurrent_generations=calls, verify="on", **_gemini(url)
            ) as s:
                judged = await loop.run_in_executor(loader, burst, s.address, calls, BURSTS)
        with model_server(png, 0.0) as url:
            async with service(database_url, directory, **_gemini(url)) as s:
                generate = await sequential(
                    lambda: s.stub.GenerateSheet(generate_request(str(uuid.uuid4()))), sequential_calls
                )
            model_alone = await _answer_alone(url, sequential_calls)
    _report_bursts(report, "", bursts, cores, calls)
    _report_writes(report, bursts, writes)
    # The floor: the same answers taken in with no service at all.
    for ordinal, wall in zip(("first", "second"), bare.walls, strict=True):
        measure = f"floor: a bare client reads the answers, {ordinal} burst / one"
        report.add(SECTION_REAL, measure, wall / bare.one, "x", "this machine's floor")
    _report_cores(report, "floor: ", bare, bare_cores, calls)
    _report_judged(report, "", judged)
    generate_p50, _ = report.latencies(SECTION_REAL, "GenerateSheet, stand-in answering at once", generate)
    model_p50, _ = report.latencies(SECTION_REAL, "the stand-in's answer alone (HTTP, unparsed)", model_alone)
    report.add(SECTION_REAL, "overhead p50: GenerateSheet - answer alone", generate_p50 - model_p50, "ms",
               "target <= 10 ms")  # fmt: skip


def _report_bursts(report: Report, label: str, bursts: Bursts, cores: CoreSampler, calls: int) -> None:
    report.add(SECTION_REAL, f"{label}one call", bursts.one, "s")
    for ordinal, wall in zip(("first", "second"), bursts.walls, strict=True):
        report.add(SECTION_REAL, f"{label}{calls} concurrent calls, {ordinal} burst, wall", wall, "s")
        report.add(
            SECTION_REAL, f"{label}{ordinal} burst wall / one call", wall / bursts.one, "x", "target <= 1.5x"
        )
    _report_cores(report, label, bursts, cores, calls)


def _report_judged(report: Report, label: str, judged: Bursts) -> None:
    """The bursts with verification on, as deployed: no target of the issue's, which are set
    with it off."""
    report.add(
        SECTION_REAL, f"{label}verification on (as deployed): one call, drawn and judged", judged.one, "s"
    )
    for ordinal, wall in zip(("first", "second"), judged.walls, strict=True):
        measure = f"{label}verification on: {ordinal} burst wall / one call"
        report.add(SECTION_REAL, measure, wall / judged.one, "x", "the targets are with it off")


def _report_writes(report: Report, bursts: Bursts, writes: WriteHolds) -> None:
    """How long SQLite's writers held their turn, and their sum beside what the bursts took
    beyond one call: near 1, the writers' queue is what the bursts wait on."""
    held = writes.seconds
    spread = f"p90 {ms(percentile(held, 90))} ms, mean {ms(sum(held) / len(held))} ms, n={len(held)}"
    report.add(
        SECTION_REAL, "write turn held, first write to the end, p50", ms(percentile(held, 50)), "ms", spread
    )
    beyond = sum(bursts.walls) - len(bursts.walls) * bursts.one
    measure = "write turn held in all / the bursts' time beyond one call"
    report.add(SECTION_REAL, measure, sum(held) / beyond, "x", "near 1: the writers' queue is the bound")


def _report_cores(report: Report, label: str, bursts: Bursts, cores: CoreSampler, calls: int) -> None:
    """How busy the machine was once the answers came, and the CPU per call (every process's)
    that the 1.5x target leaves: the cores' seconds from the answers to 1.5x one call."""
    busy = cores.after_answers(bursts.starts, bursts.walls, MODEL_SECONDS, calls)
    count = os.cpu_count() or 1
    report.add(SECTION_REAL, f"{label}cores busy, answers to last reply", busy.cores, "cores", f"of {count}")
    allowed = (1.5 * bursts.one - MODEL_SECONDS) * count * 1000 / calls
    report.add(SECTION_REAL, f"{label}CPU per call after the answers, every process", busy.cpu_ms_per_call,
               "ms", f"1.5x needs <= {allowed:.1f} ms")  # fmt: skip


async def _answer_alone(model_url: str, calls: int) -> list[float]:
    """Seconds of the stand-in's answer fetched `calls` times one at a time, unparsed."""
    async with aiohttp.ClientSession() as session:
        return await sequential(lambda: fetch_answer(session, model_url), calls)


async def real_client_processes(
    report: Report, png: bytes, calls: int, sequential_calls: int, postgres_url: str
) -> None:
    """The real-client figures again, on PostgreSQL, with `casting serve` in processes of its own:
    from one process and from several."""
    counts = " and from ".join(map(str, PROCESS_COUNTS))
    print(f"\n[{SECTION_REAL}] on PostgreSQL, `casting serve` from {counts} processes, {calls} connections")
    database_url = await _fresh_database(postgres_url, "real_client")
    with tempfile.TemporaryDirectory(prefix="casting-bench-") as tmp, load_process() as loader:
        loop = asyncio.get_running_loop()
        for processes in PROCESS_COUNTS:
            label = f"PostgreSQL, {processes} process" + ("es" if processes > 1 else "")
            serve = {"database_url": database_url, "directory": Path(tmp), "processes": processes}
            with model_server(png, MODEL_SECONDS) as url:
                async with served(url, max_concurrent_generations=calls, **serve) as address:
                    with CoreSampler() as cores:
                        bursts = await loop.run_in_executor(loader, burst, address, calls, BURSTS, calls)
                async with served(url, max_concurrent_generations=calls, verify="on", **serve) as address:
                    judged = await loop.run_in_executor(loader, burst, address, calls, BURSTS, calls)
            _report_bursts(report, f"{label}: ", bursts, cores, calls)
            _report_judged(report, f"{label}: ", judged)
            with model_server(png, 0.0) as url:
                async with served(url, **serve) as address:
                    first, generate, model_alone = await _at_once(address, url, sequential_calls)
            generate_p50, _ = report.latencies(SECTION_REAL, f"{label}: GenerateSheet at once", generate)
            report.add(
                SECTION_REAL,
                f"{label}: a fresh server's first call, at once",
                ms(first),
                "ms",
                f"{ms(first) / generate_p50:.1f}x the p50 of later ones",
            )
            model_p50, _ = report.latencies(SECTION_REAL, f"{label}: answer alone", model_alone)
            overhead = generate_p50 - model_p50
            report.add(SECTION_REAL, f"{label}: overhead p50", overhead, "ms", "target <= 10 ms")


async def _at_once(address: str, model_url: str, calls: int) -> tuple[float, list[float], list[float]]:
    """Seconds of a fresh server's first GenerateSheet (what it builds and opens on first use
    included), of `calls` more one at a time, and of the stand-in's answer fetched alone."""
    async with grpc.aio.insecure_channel(address) as channel:
        await channel.channel_ready()
        stub = casting_pb2_grpc.CastingServiceStub(channel)

        def generate() -> Awaitable[object]:
            return stub.GenerateSheet(generate_request(str(uuid.uuid4())))

        first = await timed(generate)
        later = await sequential(generate, calls)
    return first, later, await _answer_alone(model_url, calls)


@asynccontextmanager
async def served(
    model_url: str,
    database_url: str,
    directory: Path,
    processes: int,
    max_concurrent_generations: int = 16,
    verify: str = "off",
) -> AsyncIterator[str]:
    """The address of `casting serve` (CASTING_PROCESSES=`processes`, CASTING_VERIFY=`verify`)
    with the real client pointed at the stand-in at `model_url`, once every process serves;
    stopped by SIGTERM."""
    port = free_port()
    env = {
        **os.environ,
        "CASTING_HOST": "127.0.0.1",
        "CASTING_PORT": str(port),
        "CASTING_PROCESSES": str(processes),
        "CASTING_DATABASE_URL": database_url,
        "CASTING_BLOB_URL": f"file://{directory / 'blobs'}",
        "CASTING_GENERATOR": "gemini",
        "GEMINI_API_KEY": "bench-not-a-key",
        "CASTING_GEMINI_BASE_URL": model_url,
        "CASTING_VERIFY": verify,
        "CASTING_MAX_CONCURRENT_GENERATIONS": str(max_concurrent_generations),
        "CASTING_CONSOLE_PORT": "0",
        "CASTING_COLLECT_INTERVAL_SECONDS": "0",
        "CASTING_GRACE_PERIOD_SECONDS": "5",
    }
    log = directory / "server.log"
    process = start_server(env, log)
    address = f"127.0.0.1:{port}"
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            await wait_serving(channel, process)
        # Health answers once the first process serves; the burst needs them all.
        deadline = time.monotonic() + 60
        while log.read_text().count(SERVING) < processes:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"not every process started; see {log}")
            await asyncio.sleep(0.1)
        yield address
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 60)
        log.unlink()


async def _fresh_database(postgres_url: str, name: str) -> str:
    """A new database `name` beside the bench's, at the head migration."""
    url = make_url(postgres_url)
    connection = await asyncpg.connect(host=url.host, port=url.port, user=url.username, database=url.database)
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await connection.execute(f"CREATE DATABASE {name}")
    finally:
        await connection.close()
    database_url = url.set(database=name).render_as_string(hide_password=False)
    await upgrade_to_head(database_url)
    return database_url
