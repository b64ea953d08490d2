"""BoundedGenerator around GeminiGenerator: concurrency counted at the fake model server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from casting.adapters.generators.bounded import BoundedGenerator
from casting.adapters.generators.gemini import GeminiGenerator, gemini_client
from casting.domain.errors import UpstreamUnavailable
from casting.domain.ports import GenerationKind, GenerationSpec, ImageGenerator
from casting.domain.values import Style, Traits
from tests.support import fake_gemini as fake
from tests.support.fake_gemini import FakeGemini

SHEET = GenerationSpec(
    GenerationKind.SHEET, Traits(mood="calm"), Style("s", "S", "s."), Style("i", "I", "i.")
)
CALLS = 6


@pytest.fixture
async def gemini(fake_gemini: FakeGemini) -> AsyncIterator[GeminiGenerator]:
    async with gemini_client(api_key="test-key", base_url=fake_gemini.base_url, timeout_seconds=5) as client:
        yield GeminiGenerator(client, timeout_seconds=5)


async def run_all(generator: ImageGenerator, fake_gemini: FakeGemini) -> None:
    fake_gemini.script(*[fake.image(delay=0.2)] * CALLS)
    results = await asyncio.gather(*(generator.generate(SHEET, []) for _ in range(CALLS)))
    assert all(result.data == fake.picture() for result in results)


async def test_unbounded_calls_all_run_at_once(fake_gemini: FakeGemini, gemini: GeminiGenerator) -> None:
    await run_all(gemini, fake_gemini)

    assert fake_gemini.peak_in_flight == CALLS


async def test_at_most_max_concurrent_calls_run_at_once(
    fake_gemini: FakeGemini, gemini: GeminiGenerator
) -> None:
    bounded = BoundedGenerator(gemini, max_concurrent=2)
    seen: list[int] = []

    async def watch() -> None:
        while True:
            seen.append(bounded.in_flight)
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch())
    await run_all(bounded, fake_gemini)
    watcher.cancel()

    assert fake_gemini.peak_in_flight == 2
    assert len(fake_gemini.requests) == CALLS
    assert max(seen) == 2
    assert bounded.in_flight == 0


async def test_a_failed_call_frees_its_slot(fake_gemini: FakeGemini, gemini: GeminiGenerator) -> None:
    fake_gemini.script(fake.invalid_argument())
    bounded = BoundedGenerator(gemini, max_concurrent=1)

    with pytest.raises(UpstreamUnavailable):
        await bounded.generate(SHEET, [])

    assert bounded.in_flight == 0
    assert (await asyncio.wait_for(bounded.generate(SHEET, []), 5)).data == fake.picture()


def test_the_bound_is_at_least_one(gemini: GeminiGenerator) -> None:
    with pytest.raises(ValueError):
        BoundedGenerator(gemini, max_concurrent=0)
