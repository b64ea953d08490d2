"""GeminiGenerator through the real google-genai SDK, against a local fake of Gemini's API."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from google import genai
from google.genai import types

from casting.adapters.generators.gemini import GeminiGenerator, gemini_client
from casting.domain import deadline
from casting.domain.errors import GenerationBlocked, InvalidInput, UpstreamBusy, UpstreamUnavailable
from casting.domain.ports import GenerationKind, GenerationSpec
from casting.domain.values import ImageBytes, Style, TraitChanges, Traits, Usage
from tests.support import fake_gemini as fake
from tests.support.fake_gemini import FakeGemini
from tests.support.ports import free_port

API_KEY = "test-key-DO-NOT-LEAK"
TIMEOUT = 5.0
STORY = Style("thriller", "Thriller", "Muted, cool palette.")
IMAGE = Style("webtoon", "Webtoon", "Clean line art.")
BASE = Traits(hair_traits="long black ponytail", outfit="red hoodie", mood="cheerful")
CHANGES = TraitChanges(hair_traits="short silver bob", outfit="black trench coat")
SHEET = GenerationSpec(GenerationKind.SHEET, BASE, STORY, IMAGE)
VARIANT = GenerationSpec(
    GenerationKind.VARIANT, BASE.apply(CHANGES), STORY, IMAGE, base_traits=BASE, changes=CHANGES
)
PARENT = ImageBytes(fake.picture(), "image/png")
ROOT = ImageBytes(fake.picture(fake.SHEET_SIZE, "JPEG"), "image/jpeg")

MakeGenerator = Callable[..., GeminiGenerator]


class Sleeps(list[float]):
    """Stands in for asyncio.sleep: records each backoff the generator asked for, waits none."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
async def client(fake_gemini: FakeGemini) -> AsyncIterator[genai.Client]:
    async with gemini_client(api_key=API_KEY, base_url=fake_gemini.base_url, timeout_seconds=TIMEOUT) as made:
        yield made


@pytest.fixture
def make_generator(client: genai.Client) -> MakeGenerator:
    """Generators on the fake with quick backoff and the client's timeout; keywords override them."""

    def make(**overrides: Any) -> GeminiGenerator:
        return GeminiGenerator(client, **({"backoff_seconds": 0.001, "timeout_seconds": TIMEOUT} | overrides))

    return make


@asynccontextmanager
async def generator_on(
    base_url: str, timeout_seconds: float, **options: Any
) -> AsyncIterator[GeminiGenerator]:
    """A generator calling `base_url` on a client of its own, whose attempts time out after
    `timeout_seconds`."""
    async with gemini_client(api_key=API_KEY, base_url=base_url, timeout_seconds=timeout_seconds) as client:
        yield GeminiGenerator(client, backoff_seconds=0.001, timeout_seconds=timeout_seconds, **options)


def decoded(data: str) -> bytes:
    """Bytes from protobuf JSON, which may be base64 in either alphabet (the SDK sends the
    URL-safe one)."""
    return base64.urlsafe_b64decode(data.replace("+", "-").replace("/", "_"))


def inline_images(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [part["inlineData"] for part in body["contents"][0]["parts"] if "inlineData" in part]


def prompt_of(body: dict[str, Any]) -> str:
    return str(body["contents"][0]["parts"][-1]["text"])


async def test_asks_for_one_9_16_image_with_the_references_first(
    fake_gemini: FakeGemini, make_generator: MakeGenerator
) -> None:
    result = await make_generator().generate(VARIANT, [PARENT, ROOT])

    [body] = fake_gemini.requests
    assert fake_gemini.paths == ["/v1beta/models/gemini-2.5-flash-image:generateContent"]
    assert body["generationConfig"]["responseModalities"] == ["IMAGE"]
    assert body["generationConfig"]["imageConfig"]["aspectRatio"] == "9:16"
    parts = body["contents"][0]["parts"]
    assert [list(part) for part in parts] == [["inlineData"], ["inlineData"], ["text"]]
    sent = inline_images(body)
    assert [decoded(image["data"]) for image in sent] == [PARENT.data, ROOT.data]
    # The SDK spells this key in snake case inside inlineData; the API accepts both.
    assert [image.get("mimeType", image.get("mime_type")) for image in sent] == [
        "image/png",
        "image/jpeg",
    ]
    prompt = prompt_of(body)
    assert "- Hair: long black ponytail → short silver bob" in prompt.splitlines()
    assert "- Outfit: red hoodie → black trench coat" in prompt.splitlines()
    assert "Mood: cheerful →" not in prompt
    assert (result.data, result.mime_type) == (fake.picture(), "image/png")
    assert (result.generator, result.model) == ("gemini", "gemini-2.5-flash-image")
    assert result.prompt_version == "variant.v2"
    assert result.prompt_sha256 == hashlib.sha256(prompt.encode()).hexdigest()


async def test_a_sheet_is_drawn_from_the_prompt_alone(
    fake_gemini: FakeGemini, make_generator: MakeGenerator
) -> None:
    result = await make_generator(model="gemini-3-pro-image-preview").generate(SHEET, [])

    [body] = fake_gemini.requests
    assert fake_gemini.paths == ["/v1beta/models/gemini-3-pro-image-preview:generateContent"]
    assert body["contents"][0]["parts"] == [{"text": prompt_of(body)}]
    assert "imageSize" not in body["generationConfig"]["imageConfig"]
    assert (result.model, result.prompt_version) == ("gemini-3-pro-image-preview", "sheet.v2")


async def test_a_drawing_logs_nothing_at_info(
    make_generator: MakeGenerator, caplog: pytest.LogCaptureFixture
) -> None:
    """No tools are declared: the SDK's automatic function calling stays off, and with it the
    line it would log on every call ("AFC is enabled with max remote calls: 10.")."""
    caplog.set_level(logging.INFO)
    await make_generator().generate(SHEET, [])

    assert [record.getMessage() for record in caplog.records] == []


@pytest.mark.parametrize(
    ("data", "mime_type"),
    [(fake.picture(fake.SHEET_SIZE, "JPEG"), "image/jpeg"), (fake.picture((1024, 1024)), "image/png")],
    ids=["jpeg", "not-9-16"],
)
async def test_returns_the_image_as_sent_for_the_use_case_to_check(
    fake_gemini: FakeGemini, make_generator: MakeGenerator, data: bytes, mime_type: str
) -> None:
    fake_gemini.script(fake.image(data, mime_type))

    result = await make_generator().generate(SHEET, [])

    assert (result.data, result.mime_type) == (data, mime_type)


# What each finish reason must mean to a caller, written out here apart from the adapter's table.
# Refused: the model declined the prompt or its own drawing; no retry changes that.
REFUSED = {
    "SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "IMAGE_PROHIBITED_CONTENT", "BLOCKLIST", "SPII",
    "RECITATION", "IMAGE_RECITATION", "IMAGE_OTHER", "NO_IMAGE", "OTHER", "MODEL_ARMOR",
    "LANGUAGE", "ESCALATION", "JAILBREAK",
}  # fmt: skip
# Outages: the request's form or the account, not the prompt; retrying cannot help.
REJECTED = {"MISSING_THOUGHT_SIGNATURE", "PUP_LIMITED_DISABLED"}
# The model's whim, or an unfinished answer: one more try.
RETRIED = {
    "FINISH_REASON_UNSPECIFIED", "STOP", "MAX_TOKENS", "CONTINUATION", "MALFORMED_RESPONSE",
    "MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS",
}  # fmt: skip


@pytest.mark.parametrize("reason", [r.name for r in types.FinishReason])
async def test_every_finish_reason_without_an_image_is_refused_retried_or_an_outage(
    fake_gemini: FakeGemini, make_generator: MakeGenerator, reason: str
) -> None:
    fake_gemini.script(*[fake.finished(reason)] * 3)

    with pytest.raises((GenerationBlocked, UpstreamUnavailable)) as failed:
        await make_generator(max_attempts=3).generate(SHEET, [])

    error = failed.value
    if reason in REFUSED:
        assert isinstance(error, GenerationBlocked) and error.model_reason == reason
        assert len(fake_gemini.requests) == 1
    elif reason in REJECTED:
        assert isinstance(error, UpstreamUnavailable) and error.reason == "MODEL_REJECTED_REQUEST"
        assert len(fake_gemini.requests) == 1
    else:
        assert reason in RETRIED, f"{reason} is a finish reason this test does not know yet"
        assert isinstance(error, UpstreamUnavailable) and error.reason == "NO_IMAGE"
        assert len(fake_gemini.requests) == 2


@pytest.mark.parametrize(
    "reason", [r.name for r in types.BlockedReason if r.name != "BLOCKED_REASON_UNSPECIFIED"]
)
async def test_every_prompt_block_is_refused_without_retry(
    fake_gemini: FakeGemini, make_generator: MakeGenerator, reason: str
) -> None:
    fake_gemini.script(fake.prompt_blocked(reason))

    with pytest.raises(GenerationBlocked) as blocked:
        await make_generator().generate(SHEET, [])

    assert reason in REFUSED
    assert blocked.value.model_reason == reason
    assert len(fake_gemini.requests) == 1


async def test_a_drawing_the_model_flagged_itself_is_refused(
    fake_gemini: FakeGemini, make_generator: MakeGenerator
) -> None:
    flagged = fake.image()
    flagged.body["candidates"][0]["finishReason"] = "IMAGE_RECITATION"
    fake_gemini.script(flagged)

    with pytest.raises(GenerationBlocked) as blocked:
        await make_generator().generate(SHEET, [])

    assert blocked.value.model_reason == "IMAGE_RECITATION"


async def test_draft_images_marked_as_thoughts_are_skipped(
    fake_gemini: FakeGemini, make_generator: MakeGenerator
) -> None:
    draft, final = fake.picture((384, 672)), fake.picture()
    fake_gemini.script(fake.thought_then_image(draft, final))

    result = await make_generator(model="gemini-3-pro-image-preview").generate(SHEET, [])

    assert result.data == final


async def test_a_drawing_is_read_from_an_answer_with_fields_no_sdk_version_knows(
    fake_gemini: FakeGemini, make_generator: MakeGenerator
) -> None:
    # The API adds fields over time; google-genai's types refuse fields they do not know.
    answer = fake.image(fake.picture())
    (candidate,) = answer.body["candidates"]
    parts = [part | {"futurePartField": {"x": 1}} for part in candidate["content"]["parts"]]
    parts[-1]["inlineData"] |= {"futureBlobField": "y"}
    body = {
        "candidates": [candidate | {"content": {"parts": parts}, "futureCandidateField": [1]}],
        "usageMetadata": usage_metadata(10, image=1290) | {"futureUsageField": 2},
        "futureResponseField": True,
    }
    fake_gemini.script(replace(answer, body=body))

    result = await make_generator().generate(SHEET, [])

    assert result.data == fake.picture()
    assert result.usage == Usage(1, 10, 1290, 3 + 38_700)


def usage_metadata(prompt: int, image: int = 0, text: int = 0, thoughts: int = 0) -> dict[str, Any]:
    details = [{"modality": m, "tokenCount": n} for m, n in (("IMAGE", image), ("TEXT", text)) if n]
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": image + text,
        "candidatesTokensDetails": details,
        "thoughtsTokenCount": thoughts,
        "totalTokenCount": prompt + image + text + thoughts,
    }


def billed(answer: fake.Answer, usage: dict[str, Any]) -> fake.Answer:
    return replace(answer, body=answer.body | {"usageMetadata": usage})


@pytest.mark.parametrize(
    ("model", "usage", "expected"),
    [
        # 1000 input at $0.30, 200 thought at $2.50 and 1290 image tokens at $30 a million.
        (
            "gemini-2.5-flash-image",
            usage_metadata(1000, image=1290, thoughts=200),
            Usage(1, 1000, 1490, 39_500),
        ),
        # 600 input at $2, 40 text and 100 thought at $12, 2000 image tokens at $120 a million.
        (
            "gemini-3-pro-image-preview",
            usage_metadata(600, image=2000, text=40, thoughts=100),
            Usage(1, 600, 2140, 1200 + 1680 + 240_000),
        ),
    ],
    ids=["flash", "pro"],
)
async def test_a_drawing_carries_the_tokens_the_model_reports_and_their_price(
    fake_gemini: FakeGemini, make_generator: MakeGenerator, model: str, usage: dict[str, Any], expected: Usage
) -> None:
    fake_gemini.script(billed(fake.image(), usage))

    result = await make_generator(model=model).generate(SHEET, [])

    assert result.usage == expected


async def test_every_call_is_counted_and_each_answer_charged_what_it_reports(
    fake_gemini: FakeGemini, make_generator: MakeGenerator
) -> None:
    fake_gemini.script(
        fake.server_error(503),  # an error reports no usage and is not billed
        billed(fake.text_only(), usage_metadata(100, text=10)),
        billed(fake.image(), usage_metadata(100, image=1290)),
    )

    result = await make_generator(max_attempts=3).generate(SHEET, [])

    assert result.usage == Usage(3, 200, 1300, 30 + 25 + 30 + 38_700)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (billed(fake.prompt_blocked("SAFETY"), usage_metadata(500)), Usage(1, 500, 0, 150)),
        (billed(fake.finished("IMAGE_SAFETY"), usage_metadata(500, image=1290)), Usage(1, 500, 1290, 38_850)),
    ],
    ids=["prompt-blocked", "drawing-blocked"],
)
async def test_a_refusal_is_charged_what_the_model_bills(
    fake_gemini: FakeGemini, make_generator: MakeGenerator, answer: fake.Answer, expected: Usage
) -> None:
    fake_gemini.script(answer)

    with pytest.raises(GenerationBlocked) as blocked:
        await make_generator().generate(SHEET, [])

    assert blocked.value.usage == expected


async def test_an_outage_is_charged_what_its_answers_billed(
    fake_gemini: FakeGemini, make_generator: MakeGenerator
) -> None:
    fake_gemini.script(*[billed(fake.text_only(), usage_metadata(100, text=8))] * 2)

    with pytest.raises(UpstreamUnavailable) as unavailable:
        await make_generator().generate(SHEET, [])

    assert unavailable.value.usage == Usage(2, 200, 16, 2 * (30 + 20))


async def test_a_larger_size_is_asked_of_a_model_that_draws_it(
    fake_gemini: FakeGemini, make_generator: MakeGenerator
) -> None:
    result = await make_generator(model="gemini-3-pro-image-preview").generate(
        replace(SHEET, image_size="4K"), []
    )

    [body] = fake_gemini.requests
    assert body["generationConfig"]["imageConfig"] == {"aspectRatio": "9:16", "imageSize": "4K"}
    # The stand-in bills a 4K drawing as Google does: 2000 image tokens at $120 a million.
    assert result.usage.cost_micros >= 240_000


@pytest.mark.parametrize("size", ["2K", "4K", "8K"])
async def test_a_size_the_model_does_not_draw_is_invalid_before_any_call(
    fake_gemini: FakeGemini, make_generator: MakeGenerator, size: str
) -> None:
    with pytest.raises(InvalidInput) as invalid:
        await make_generator().generate(replace(SHEET, image_size=size), [])

    [violation] = invalid.value.violations
    assert violation.field == "image_size" and "1K" in violation.description
    assert fake_gemini.requests == []


def test_an_unknown_model_is_refused(client: genai.Client) -> None:
    with pytest.raises(ValueError, match="gemini-2.5-flash-image"):
        GeminiGenerator(client, model="gemini-1.0-pro-vision")


@pytest.mark.parametrize("answer", [fake.text_only(), fake.no_candidates()], ids=["text", "empty"])
async def test_an_answer_without_an_image_is_retried_once(
    fake_gemini: FakeGemini, make_generator: MakeGenerator, answer: fake.Answer
) -> None:
    fake_gemini.script(answer, answer, answer)

    with pytest.raises(UpstreamUnavailable) as unavailable:
        await make_generator(max_attempts=3).generate(SHEET, [])

    assert unavailable.value.reason == "NO_IMAGE"
    assert len(fake_gemini.requests) == 2


async def test_a_retry_after_no_image_can_succeed(
    fake_gemini: FakeGemini, make_generator: MakeGenerator
) -> None:
    fake_gemini.script(fake.text_only())

    result = await make_generator().generate(SHEET, [])

    assert result.data == fake.picture()
    assert len(fake_gemini.requests) == 2


async def test_quota_exhaustion_is_retried_then_busy(
    fake_gemini: FakeGemini, make_generator: MakeGenerator
) -> None:
    fake_gemini.script(*[fake.quota_exhausted("0.01s")] * 3)

    with pytest.raises(UpstreamBusy) as busy:
        await make_generator(max_attempts=3).generate(SHEET, [])

    assert busy.value.retry_after == pytest.approx(0.01)
    assert len(fake_gemini.requests) == 3


@pytest.mark.parametrize(
    "answer",
    [fake.quota_exhausted("0.3s"), replace(fake.server_error(503), headers={"Retry-After": "0.3"})],
    ids=["429-retry-info", "503-retry-after"],
)
async def test_the_models_retry_delay_is_honoured(
    fake_gemini: FakeGemini, make_generator: MakeGenerator, answer: fake.Answer
) -> None:
    fake_gemini.script(answer)
    sleeps = Sleeps()

    await make_generator(sleep=sleeps).generate(SHEET, [])

    assert sleeps == [0.3]  # the hint, not the 1 ms backoff
    assert len(fake_gemini.requests) == 2


@pytest.mark.parametrize(
    ("answer", "retry_after"),
    [
        (fake.quota_exhausted("1s"), 1.0),
        (fake.quota_exhausted("2.5s"), 2.5),
        (fake.quota_exhausted(retry_delay=None, retry_after="7"), 7.0),
    ],
    ids=["retry-info", "fractional", "retry-after-header"],
)
async def test_busy_carries_the_models_hint(
    fake_gemini: FakeGemini, make_generator: MakeGenerator, answer: fake.Answer, retry_after: float
) -> None:
    fake_gemini.script(answer)

    with pytest.raises(UpstreamBusy) as busy:
        await make_generator(max_attempts=1).generate(SHEET, [])

    assert busy.value.retry_after == retry_after


async def test_busy_without_a_hint_suggests_the_next_backoff(
    fake_gemini: FakeGemini, make_generator: MakeGenerator
) -> None:
    fake_gemini.script(fake.quota_exhausted(retry_delay=None))

    with pytest.raises(UpstreamBusy) as busy:
        await make_generator(max_attempts=1, backoff_seconds=2.0).generate(SHEET, [])

    assert 1.0 <= busy.value.retry_after <= 2.0


async def test_a_hint_longer_than_the_longest_backoff_is_not_waited_for(
    fake_gemini: FakeGemini, make_generator: MakeGenerator
) -> None:
    fake_gemini.script(fake.quota_exhausted("60s"))

    with pytest.raises(UpstreamBusy) as busy:
        await make_generator(max_backoff_seconds=30.0).generate(SHEET, [])

    assert busy.value.retry_after == 60.0
    assert len(fake_gemini.requests) == 1


@pytest.mark.parametrize("code", [500, 502, 503, 504])
async def test_server_errors_are_retried_then_unavailable(
    fake_gemini: FakeGemini, make_generator: MakeGenerator, code: int
) -> None:
    fake_gemini.script(*[fake.server_error(code)] * 3)

    with pytest.raises(UpstreamUnavailable) as unavailable:
        await make_generator(max_attempts=3).generate(SHEET, [])

    assert unavailable.value.reason == "MODEL_UNAVAILABLE"
    assert len(fake_gemini.requests) == 3


async def test_a_retry_after_a_server_error_can_succeed(
    fake_gemini: FakeGemini, make_generator: MakeGenerator
) -> None:
    fake_gemini.script(fake.server_error(503), fake.quota_exhausted("0.01s"))

    result = await make_generator().generate(SHEET, [])

    assert result.data == fake.picture()
    assert len(fake_gemini.requests) == 3


async def test_a_hanging_model_times_out_and_is_retried(
    fake_gemini: FakeGemini, make_generator: MakeGenerator
) -> None:
    fake_gemini.script(*[fake.hang(30)] * 2)

    async with generator_on(fake_gemini.base_url, 0.2, max_attempts=2) as generator:
        with pytest.raises(UpstreamUnavailable) as unavailable:
            await generator.generate(SHEET, [])

    assert unavailable.value.reason == "MODEL_UNAVAILABLE"
    assert len(fake_gemini.requests) == 2


async def test_an_unreachable_model_is_unavailable() -> None:
    async with generator_on(f"http://127.0.0.1:{free_port()}", 2) as generator:  # nothing answers there
        with pytest.raises(UpstreamUnavailable) as unavailable:
            await generator.generate(SHEET, [])

    assert unavailable.value.reason == "MODEL_UNAVAILABLE"


async def test_an_invalid_request_is_rejected_without_retry(
    fake_gemini: FakeGemini, make_generator: MakeGenerator
) -> None:
    fake_gemini.script(fake.invalid_argument())

    with pytest.raises(UpstreamUnavailable) as unavailable:
        await make_generator().generate(SHEET, [])

    assert unavailable.value.reason == "MODEL_REJECTED_REQUEST"
    assert len(fake_gemini.requests) == 1


async def test_no_retry_starts_past_the_callers_deadline(
    fake_gemini: FakeGemini, make_generator: MakeGenerator
) -> None:
    fake_gemini.script(fake.server_error(503))
    sleeps = Sleeps()
    # The first retry would wait at least 10 s; the caller has 5 s, plenty for the first call
    # to go out even on a loaded machine (a 50 ms deadline could pass before it did).
    generator = make_generator(backoff_seconds=20.0, sleep=sleeps)

    with deadline.bounded_by(5.0), pytest.raises(UpstreamUnavailable) as unavailable:
        await generator.generate(SHEET, [])

    assert unavailable.value.reason == "MODEL_UNAVAILABLE"
    assert len(fake_gemini.requests) == 1
    assert sleeps == [], "no backoff sleep either"


async def test_quota_past_the_deadline_is_busy_at_once(
    fake_gemini: FakeGemini, make_generator: MakeGenerator
) -> None:
    fake_gemini.script(fake.quota_exhausted("1s"))

    with deadline.bounded_by(0.5), pytest.raises(UpstreamBusy) as busy:
        await make_generator().generate(SHEET, [])

    assert busy.value.retry_after == 1.0
    assert len(fake_gemini.requests) == 1


async def test_an_attempt_ends_with_the_callers_deadline(
    fake_gemini: FakeGemini, make_generator: MakeGenerator
) -> None:
    # Neither the model nor the attempt's own timeout would end it before pytest's timeout does:
    # only the caller's deadline can.
    fake_gemini.script(fake.hang(3600))
    sleeps = Sleeps()
    async with generator_on(fake_gemini.base_url, 3600.0, sleep=sleeps) as generator:
        with deadline.bounded_by(0.3), pytest.raises(UpstreamUnavailable):
            await generator.generate(SHEET, [])

    assert len(fake_gemini.requests) == 1
    assert sleeps == []


async def test_no_call_starts_once_the_deadline_has_passed(
    fake_gemini: FakeGemini, make_generator: MakeGenerator
) -> None:
    with deadline.bounded_by(0.0), pytest.raises(UpstreamUnavailable):
        await make_generator().generate(SHEET, [])

    assert fake_gemini.requests == []


@pytest.mark.parametrize(
    "answer",
    [fake.quota_exhausted(), fake.server_error(500), fake.invalid_argument("echo: ponytail")],
    ids=["429", "500", "400"],
)
async def test_errors_carry_neither_the_key_nor_the_upstream_body(
    fake_gemini: FakeGemini,
    make_generator: MakeGenerator,
    caplog: pytest.LogCaptureFixture,
    answer: fake.Answer,
) -> None:
    fake_gemini.script(answer)
    caplog.set_level(logging.DEBUG, logger="casting")

    with pytest.raises((UpstreamBusy, UpstreamUnavailable)) as failed:
        await make_generator(max_attempts=1).generate(SHEET, [])

    upstream_message = answer.body["error"]["message"]
    error = failed.value
    assert error.__cause__ is None and error.__context__ is None
    for text in (str(error), repr(error), repr(vars(error)), caplog.text):
        assert API_KEY not in text
        assert upstream_message not in text


def test_a_fresh_process_builds_the_sdks_types_before_its_first_model_calls(fake_gemini: FakeGemini) -> None:
    """google-genai builds a type's validator on its first use: ~35 ms of a fresh replica's first
    drawing and first judgement, which every call queued behind them on the loop waited out.
    Opening the client builds them. (The SDK's private request type is left to its first call.)"""
    first_calls = subprocess.run(
        [sys.executable, "-m", "tests.support.first_model_calls", fake_gemini.base_url],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert first_calls.returncode == 0, first_calls.stderr
    assert json.loads(first_calls.stdout) == {"drawing": [], "judgement": []}
