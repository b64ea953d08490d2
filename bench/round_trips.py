"""Round trips to PostgreSQL per call, counted, not timed: the service's connections go through a
proxy (`tests/support/pg_proxy.py`) that counts the server's ReadyForQuery messages by the
connection's application_name, the service's pool ("casting") apart from its direct reads'
("casting-reads") and the model-call slots' ("casting-slots"). Calls run one at a time after a
warm-up, so every pool is warm: connections opened and statements prepared before the count. A
trip costs ~0.5 ms on the bench machine, so each one counts toward GenerateSheet's 10 ms overhead
and GetActor's QPS. Then GenerateSheet `calls` at once, under the default cap on model calls: the
slots' trips a call in a burst.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections import Counter
from pathlib import Path

from sqlalchemy import make_url

from bench.harness import StandInGenerator, generate_request, service
from bench.report import Report
from bench.throughput import served_actor
from casting.adapters.sql.migrate import upgrade_to_head
from casting.v1 import casting_pb2 as pb
from tests.support.pg_proxy import PostgresProxy

SECTION = "trips"
POOLS = ("casting", "casting-reads", "casting-slots")
NOTES = {
    "GenerateSheet with a request_id": "0fe7bf6: 21; 80ee9d7: 10",
    "GenerateSheet without one": "0fe7bf6: 14; 80ee9d7: 8",
    "GetActor, cache off": "0fe7bf6: 4; one statement: 1",
    "GenerateSheet, a burst": "6e959f1: 4.15, of which the slots 2.07",
}


async def round_trips(report: Report, png: bytes, calls: int, postgres_url: str) -> None:
    print(f"\n[{SECTION}] PostgreSQL round trips per call, {calls} calls each, one at a time")
    await upgrade_to_head(postgres_url)
    url = make_url(postgres_url)
    async with PostgresProxy(url.host or "127.0.0.1", url.port or 5432).running() as proxy:
        proxied = url.set(port=proxy.port).render_as_string(hide_password=False)
        with tempfile.TemporaryDirectory(prefix="casting-bench-") as tmp:
            model = StandInGenerator(png, latency_seconds=0.0)
            # No background rounds of the casting engine during the count: it resumes and looks
            # for stalled work on the service's pool every heartbeat.
            async with service(
                proxied,
                Path(tmp),
                model,
                actor_cache_seconds=0,
                cast_heartbeat_seconds=3600,
                cast_stalled_seconds=7200,
            ) as served:
                actor = await served_actor(served)
                requests = {
                    "GenerateSheet with a request_id": lambda: served.stub.GenerateSheet(
                        generate_request(uuid.uuid4().hex)
                    ),
                    "GenerateSheet without one": lambda: served.stub.GenerateSheet(generate_request("")),
                    "GetActor, cache off": lambda: served.stub.GetActor(pb.GetActorRequest(name=actor.name)),
                }
                for label, call in requests.items():
                    for _ in range(5):
                        await call()
                    before = proxy.round_trips.copy()
                    for _ in range(calls):
                        await call()
                    _report(report, label, proxy.round_trips - before, calls)
                before = proxy.round_trips.copy()
                await asyncio.gather(*(requests["GenerateSheet with a request_id"]() for _ in range(calls)))
                _report(report, "GenerateSheet, a burst", proxy.round_trips - before, calls)


def _report(report: Report, label: str, made: Counter[str], calls: int) -> None:
    for pool in POOLS:
        report.add(SECTION, f"{label}: trips, {pool}", made[pool] / calls, "")
    others = made.total() - sum(made[pool] for pool in POOLS)
    report.add(SECTION, f"{label}: trips, others", others / calls, "")
    report.add(SECTION, f"{label}: trips in all", made.total() / calls, "", NOTES[label])
