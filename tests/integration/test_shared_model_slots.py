"""On PostgreSQL the cap on model calls holds across replicas: two replicas' generators, each
allowed more calls than the shared cap, together never run more than it at the model."""

from __future__ import annotations

import asyncio

import pytest

from casting.adapters.generators.bounded import AdvisorySlots, BoundedGenerator
from casting.adapters.generators.gemini import GeminiGenerator, gemini_client
from casting.adapters.sql.engine import create_engine
from casting.domain import workload
from tests.integration.test_gemini_bounded import SHEET
from tests.support import fake_gemini as fake
from tests.support.fake_gemini import FakeGemini

SHARED_CAP = 2
LOCAL_CAP = 4


# The cap across replicas is PostgreSQL's (advisory locks); SQLite serves one process.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_replicas_share_one_cap(database_url: str, fake_gemini: FakeGemini) -> None:
    engines = [create_engine(database_url, pool_size=LOCAL_CAP, max_overflow=0) for _ in range(2)]
    client = gemini_client(api_key="test-key", base_url=fake_gemini.base_url, timeout_seconds=10)
    gemini = GeminiGenerator(client, timeout_seconds=10)
    replicas = [
        BoundedGenerator(gemini, LOCAL_CAP, 1, AdvisorySlots(engine, SHARED_CAP, 1)) for engine in engines
    ]
    calls = 2 * LOCAL_CAP
    fake_gemini.script(*[fake.image(delay=0.3)] * calls)

    async def batch_call(replica: BoundedGenerator) -> bytes:
        with workload.batch():
            return (await replica.generate(SHEET, [])).data

    async def interactive_call(replica: BoundedGenerator) -> bytes:
        return (await replica.generate(SHEET, [])).data

    try:
        results = await asyncio.gather(
            *(interactive_call(replicas[i % 2]) for i in range(calls // 2)),
            *(batch_call(replicas[i % 2]) for i in range(calls // 2)),
        )
    finally:
        await gemini.aclose()
        for engine in engines:
            await engine.dispose()

    assert len(results) == calls and len(fake_gemini.requests) == calls
    assert fake_gemini.peak_in_flight == SHARED_CAP
