"""`python -m bench [--quick] [--only SECTION ...]`: every benchmark, one table, one JSON file."""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bench import (
    blobs,
    generation,
    ledger,
    library,
    memory,
    round_trips,
    story_casting,
    throughput,
    verification,
)
from bench.harness import sheet_png
from bench.report import Report

SECTIONS = (
    "concurrency",
    "overhead",
    "real-client",
    "blobs",
    "library",
    "ledger",
    "throughput",
    "memory",
    "bombs",
    "stalled",
    "story",
    "fairness",
    "cap",
    "verification",
    "trips",
)
# Sections that need the throwaway PostgreSQL cluster.
ON_POSTGRES = ("real-client", "library", "ledger", "throughput", "cap", "trips")
# Headroom over PostgreSQL's default 100: the real-client section's two `casting serve` processes
# may hold 25 connections each (the pool and its overflow, the slots' one, the task engine's)
# beside the bench's own servers and probes.
MAX_CONNECTIONS = 400


@contextmanager
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL 15 cluster (the tests' helper) with an empty `bench` database."""
    from tests.support.databases import start_postgres  # the bench borrows the tests' cluster

    cluster = start_postgres()
    try:
        cluster.execute(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}")
        cluster.restart()
        cluster.execute("CREATE DATABASE bench")
        yield cluster.url("bench")
    finally:
        cluster.stop()


async def run(report: Report, sections: tuple[str, ...], postgres_url: str | None) -> None:
    quick = report.quick
    png = sheet_png()
    if "concurrency" in sections:
        await generation.concurrency(report, png, calls=20 if quick else 100)
    if "overhead" in sections:
        await generation.overhead(report, png, calls=50 if quick else 300)
    if "real-client" in sections:
        calls, sequential_calls = (20, 30) if quick else (100, 100)
        await generation.real_client(report, png, calls, sequential_calls)
        if postgres_url is not None:
            await generation.real_client_processes(report, png, calls, sequential_calls, postgres_url)
    if "blobs" in sections:
        await blobs.blobs(report, png, calls=30 if quick else 200)
    if "library" in sections:
        sizes = (100, 2_000) if quick else (100, 2_000, 20_000)
        await library.library(report, sizes, calls=30 if quick else 200, postgres_url=postgres_url)
    if "ledger" in sections:
        prior = (0, 2_000) if quick else (0, 20_000)
        await ledger.ledger(report, prior, calls=30 if quick else 200, postgres_url=postgres_url)
    if "throughput" in sections:
        await throughput.throughput(report, png, (1, 8, 32), 1.0 if quick else 4.0, postgres_url)
    if "memory" in sections:
        await memory.memory(report, client_counts=(1, 20))
    if "bombs" in sections:
        await memory.bombs(report)
    if "stalled" in sections:
        await memory.stalled(report)
    if "story" in sections:
        await story_casting.story(report, png)
    if "fairness" in sections:
        await story_casting.fairness(report, png, batch_calls=50 if quick else 200)
    if "cap" in sections and postgres_url is not None:
        await story_casting.global_cap(report, png, postgres_url)
    if "verification" in sections:
        await verification.verification(report, quick)
    if "trips" in sections and postgres_url is not None:
        await round_trips.round_trips(report, png, 20 if quick else 100, postgres_url)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run of a minute or so")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=SECTIONS, help="run only these")
    parser.add_argument(
        "--no-postgres", action="store_true", help="the sections that use PostgreSQL on SQLite only"
    )
    args = parser.parse_args()
    # The access log is one line per RPC; the benchmarks make many thousands.
    logging.basicConfig(level=logging.WARNING)
    report = Report(quick=args.quick)
    sections = tuple(args.only)
    started = time.perf_counter()
    if set(ON_POSTGRES) & set(sections) and not args.no_postgres:
        with postgres() as url:
            asyncio.run(run(report, sections, url))
    else:
        asyncio.run(run(report, sections, None))
    print(f"\n{report.table()}\n\nwritten to {report.save()} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
