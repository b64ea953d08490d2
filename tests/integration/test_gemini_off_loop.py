"""The Gemini client on a loop of its own (adapters/generators/off_loop.py), as the server runs
it: answers, errors and the caller's deadline cross between the loops."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest

from casting.adapters.generators.gemini import GeminiGenerator, gemini_client
from casting.adapters.generators.off_loop import OffLoopGenerator
from casting.domain import deadline
from casting.domain.errors import GenerationBlocked, UpstreamUnavailable
from casting.domain.ports import GenerationKind, GenerationSpec
from casting.domain.values import Style, Traits
from tests.support import fake_gemini as fake
from tests.support.fake_gemini import FakeGemini

SHEET = GenerationSpec(
    GenerationKind.SHEET, Traits(mood="calm"), Style("drama", "Drama", "."), Style("webtoon", "Webtoon", ".")
)


@pytest.fixture
async def generator(fake_gemini: FakeGemini) -> AsyncIterator[OffLoopGenerator]:
    off_loop = OffLoopGenerator(
        GeminiGenerator(
            gemini_client(api_key="test-key-not-real", base_url=fake_gemini.base_url, timeout_seconds=3600.0),
            timeout_seconds=3600.0,
        )
    )
    yield off_loop
    await off_loop.aclose()


async def test_the_models_image_comes_back_to_the_callers_loop(
    fake_gemini: FakeGemini, generator: OffLoopGenerator
) -> None:
    sent = fake.picture((90, 160))
    fake_gemini.script(fake.image(sent))

    generated = await generator.generate(SHEET, [])

    assert (generated.data, generated.mime_type, generated.generator) == (sent, "image/png", "gemini")
    assert fake_gemini.requests[0]["contents"][0]["parts"][-1]["text"]
    assert base64.b64encode(sent).decode() not in str(fake_gemini.requests)  # nothing sent back


async def test_the_models_refusal_reaches_the_caller(
    fake_gemini: FakeGemini, generator: OffLoopGenerator
) -> None:
    fake_gemini.script(fake.prompt_blocked("SAFETY"))

    with pytest.raises(GenerationBlocked):
        await generator.generate(SHEET, [])


async def test_the_callers_deadline_goes_with_the_call(
    fake_gemini: FakeGemini, generator: OffLoopGenerator
) -> None:
    # Neither the model nor the client's hour-long timeout would end it before pytest's timeout
    # does: only the deadline set on the caller's loop can.
    fake_gemini.script(fake.hang(3600))

    with deadline.bounded_by(0.3), pytest.raises(UpstreamUnavailable):
        await generator.generate(SHEET, [])

    assert len(fake_gemini.requests) == 1
