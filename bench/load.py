"""A load generator in its own process, so that the clients' work does not run on the server's
event loop: `clients` channels each calling one method back to back for `seconds`, or a burst
of calls at once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

import aiohttp
import grpc

from bench.harness import generate_request
from bench.model_server import fetch_answer
from casting.adapters.generators.gemini_answers import read_answer
from casting.v1 import casting_pb2_grpc


def load_process() -> ProcessPoolExecutor:
    """One worker process, started fresh (spawn), reused for every run."""
    return ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))


def drive(
    address: str, method: str, request: bytes, clients: int, seconds: float
) -> tuple[float, list[float]]:
    """(the measured window's seconds, the latency of every call finished in it). Requests and
    responses stay serialized bytes, so the client spends nothing on protobuf."""
    return asyncio.run(_drive(address, method, request, clients, seconds))


async def _drive(
    address: str, method: str, request: bytes, clients: int, seconds: float
) -> tuple[float, list[float]]:
    channels = [grpc.aio.insecure_channel(address) for _ in range(clients)]
    try:
        calls = [channel.unary_unary(method) for channel in channels]
        for call in calls:  # connect, and warm up
            for _ in range(3):
                await call(request)
        latencies: list[float] = []
        started = time.perf_counter()
        deadline = started + seconds

        async def client(call: grpc.aio.UnaryUnaryMultiCallable) -> None:
            while (now := time.perf_counter()) < deadline:
                await call(request)
                latencies.append(time.perf_counter() - now)

        await asyncio.gather(*(client(call) for call in calls))
        return time.perf_counter() - started, latencies
    finally:
        for channel in channels:
            await channel.close()


@dataclass(frozen=True)
class Bursts:
    """One call's seconds, then the wall seconds of each burst and when it began (`time.time()`,
    which the bench's own process reads alike)."""

    one: float
    walls: list[float]
    starts: list[float]


def burst(address: str, calls: int, times: int, connections: int = 1) -> Bursts:
    """One GenerateSheet's seconds, then `times` bursts of `calls` at once, after a warm-up call;
    every call with its own request id. The calls are spread over `connections`
    connections, all open before the first is measured (several serving processes share a port
    by connection, not by call)."""
    return asyncio.run(_burst(address, calls, times, connections))


async def _burst(address: str, calls: int, times: int, connections: int) -> Bursts:
    # A subchannel pool per channel: otherwise channels to one address share one connection.
    options = [("grpc.use_local_subchannel_pool", 1)]
    channels = [grpc.aio.insecure_channel(address, options=options) for _ in range(connections)]
    try:
        await asyncio.gather(*(channel.channel_ready() for channel in channels))
        stubs = [casting_pb2_grpc.CastingServiceStub(channel) for channel in channels]

        def call(index: int) -> Awaitable[Any]:
            return stubs[index % connections].GenerateSheet(generate_request(str(uuid.uuid4())))

        return await _bursts(call, calls, times)
    finally:
        for channel in channels:
            await channel.close()


def answers_burst(model_url: str, calls: int, times: int) -> Bursts:
    """As `burst`, with no service: the model stand-in's answers fetched and read (parsed, the
    image decoded) by a bare aiohttp client with the service's own reader. What any service on
    this machine would need just to take in that many answers at once."""
    return asyncio.run(_answers_burst(model_url, calls, times))


async def _answers_burst(model_url: str, calls: int, times: int) -> Bursts:
    connector = aiohttp.TCPConnector(limit=0)  # as many connections as calls, as the SDK opens
    async with aiohttp.ClientSession(connector=connector) as session:

        async def call(_index: int) -> None:
            read_answer(await fetch_answer(session, model_url))

        return await _bursts(call, calls, times)


async def _bursts(call: Callable[[int], Awaitable[Any]], calls: int, times: int) -> Bursts:
    """One call's seconds, then `times` bursts of `calls` at once, after a warm-up."""
    await call(0)
    started = time.perf_counter()
    await call(0)
    one = time.perf_counter() - started
    walls, starts = [], []
    for _ in range(times):
        starts.append(time.time())
        started = time.perf_counter()
        await asyncio.gather(*(call(index) for index in range(calls)))
        walls.append(time.perf_counter() - started)
    return Bursts(one, walls, starts)
