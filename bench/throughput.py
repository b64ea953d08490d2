"""Read throughput: GetActor at 1, 8 and 32 concurrent clients (QPS and p99), on SQLite with the
read cache on and off and on PostgreSQL with it off, beside the QPS of a no-op handler serving
the same response from a bare grpc.aio server set up the same way (in this process, load from
another): the ceiling of gRPC in Python on this machine."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import grpc

from bench.harness import PARENT, Served, StandInGenerator, service, sqlite_url
from bench.load import drive, load_process
from bench.report import Report, ms, percentile
from casting.adapters.sql.migrate import upgrade_to_head
from casting.v1 import casting_pb2 as pb

SECTION = "throughput"
GET_ACTOR = "/casting.v1.CastingService/GetActor"


@asynccontextmanager
async def noop_server(response: pb.Actor) -> AsyncIterator[int]:
    """A grpc.aio server whose GetActor returns `response` and does nothing else."""

    async def get_actor(request: Any, context: Any) -> pb.Actor:
        return response

    handler = grpc.method_handlers_generic_handler(
        "casting.v1.CastingService",
        {
            "GetActor": grpc.unary_unary_rpc_method_handler(
                get_actor, pb.GetActorRequest.FromString, pb.Actor.SerializeToString
            )
        },
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield port
    finally:
        await server.stop(None)


async def served_actor(served: Served) -> pb.Actor:
    """An actor of four looks, made through the service."""
    sheet = await served.stub.GenerateSheet(
        pb.GenerateSheetRequest(parent=PARENT, story_style="romance", image_style="webtoon")
    )
    actor = await served.stub.SaveActor(
        pb.SaveActorRequest(parent=PARENT, sheet=sheet.name, display_name="Mira")
    )
    for look in range(3):
        await served.stub.BranchVariant(
            pb.BranchVariantRequest(
                base_variant=actor.variants[0].name,
                display_name=f"Look {look}",
                trait_changes=pb.TraitChanges(mood=f"mood {look}"),
            )
        )
    return await served.stub.GetActor(pb.GetActorRequest(name=actor.name))


async def throughput(
    report: Report, png: bytes, levels: tuple[int, ...], seconds: float, postgres_url: str | None
) -> None:
    print(f"\n[{SECTION}] GetActor, {seconds:.0f} s per level, load from a separate process")
    with tempfile.TemporaryDirectory(prefix="casting-bench-") as tmp, load_process() as loader:
        directory = Path(tmp)
        loop = asyncio.get_running_loop()

        async def run(port: int, request: bytes, clients: int) -> tuple[float, float]:
            window, latencies = await loop.run_in_executor(
                loader, drive, f"127.0.0.1:{port}", GET_ACTOR, request, clients, seconds
            )
            return len(latencies) / window, ms(percentile(latencies, 99))

        database_url = await sqlite_url(directory)
        # As deployed (the read cache on, its default time), and every read from the database:
        # SQLite's, and PostgreSQL's when there is one.
        servers_to_run: list[tuple[str, str, dict[str, Any]]] = [
            ("GetActor", database_url, {}),
            ("GetActor, cache off", database_url, {"actor_cache_seconds": 0}),
        ]
        if postgres_url is not None:
            await upgrade_to_head(postgres_url)
            servers_to_run.append(
                ("GetActor, cache off, PostgreSQL", postgres_url, {"actor_cache_seconds": 0})
            )
        async with AsyncExitStack() as servers:
            requests: dict[str, tuple[int, bytes]] = {}
            for label, url, cache in servers_to_run:
                served = await servers.enter_async_context(
                    service(url, directory, StandInGenerator(png, 0.0), **cache)
                )
                actor = await served_actor(served)
                requests[label] = (served.port, pb.GetActorRequest(name=actor.name).SerializeToString())
            noop_port = await servers.enter_async_context(noop_server(actor))
            requests["no-op"] = (noop_port, requests["GetActor"][1])
            # Level by level, each server in turn, so that a change in the machine's load between
            # minutes does not fall between a figure and its ceiling.
            figures: dict[str, dict[int, tuple[float, float]]] = {label: {} for label in requests}
            for clients in levels:
                for label, (port, request) in requests.items():
                    figures[label][clients] = await run(port, request, clients)
    ceiling = figures.pop("no-op")
    for clients in levels:
        ceiling_qps, ceiling_p99 = ceiling[clients]
        report.add(SECTION, f"no-op handler, {clients:>2} clients: QPS", ceiling_qps, "/s")
        report.add(SECTION, f"no-op handler, {clients:>2} clients: p99", ceiling_p99, "ms")
        for label, by_level in figures.items():
            qps, p99 = by_level[clients]
            report.add(SECTION, f"{label}, {clients:>2} clients: QPS", qps, "/s")
            report.add(SECTION, f"{label}, {clients:>2} clients: p99", p99, "ms")
            target = "target >= 0.5x" if label == "GetActor" else "target >= 0.3x" if clients == 8 else ""
            report.add(SECTION, f"{label} / no-op QPS, {clients:>2} clients", qps / ceiling_qps, "x", target)
