"""GeminiJudge through the real google-genai SDK in JSON mode, against the local fake."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from casting.adapters.generators.gemini import gemini_client
from casting.adapters.generators.prices import PriceTable, Tokens
from casting.adapters.judges.gemini import RULES, GeminiJudge, Verdict
from casting.domain.errors import UpstreamBusy, UpstreamUnavailable
from casting.domain.values import ImageBytes
from tests.integration.test_gemini_generator import API_KEY, PARENT, ROOT, SHEET, VARIANT, decoded
from tests.support import fake_gemini as fake
from tests.support.fake_gemini import Answer, FakeGemini

CANDIDATE = ImageBytes(fake.picture((720, 1280)), "image/png")


@pytest.fixture
async def judge(fake_gemini: FakeGemini) -> AsyncIterator[GeminiJudge]:
    async with gemini_client(api_key=API_KEY, base_url=fake_gemini.base_url, timeout_seconds=5.0) as client:
        yield GeminiJudge(client, "gemini-2.5-flash", timeout_seconds=5.0)


async def test_it_asks_in_json_mode_with_the_references_first_and_the_candidate_last(
    judge: GeminiJudge, fake_gemini: FakeGemini
) -> None:
    await judge.judge(VARIANT, CANDIDATE, [PARENT, ROOT])
    (request,) = fake_gemini.judge_requests
    assert fake_gemini.paths == ["/v1beta/models/gemini-2.5-flash:generateContent"]
    config = request["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert set(config["responseSchema"]["properties"]) == set(Verdict.model_fields)
    parts = request["contents"][0]["parts"]
    images = [decoded(p["inlineData"]["data"]) for p in parts if "inlineData" in p]
    assert images == [PARENT.data, ROOT.data, CANDIDATE.data]
    assert parts[-1]["text"].startswith("You check a drawn webtoon character profile sheet")


async def test_a_judgement_logs_nothing_at_info(judge: GeminiJudge, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)  # the SDK's "AFC is enabled" line, were function calling on
    await judge.judge(VARIANT, CANDIDATE, [PARENT])

    assert [record.getMessage() for record in caplog.records] == []


async def test_a_passing_answer_is_every_rule_passed_with_the_score_and_its_usage(judge: GeminiJudge) -> None:
    judgement = await judge.judge(VARIANT, CANDIDATE, [PARENT])
    assert judgement.identity_score == 1.0 and judgement.judge == "gemini:gemini-2.5-flash"
    assert {c.rule for c in judgement.checks} == set(RULES.values())
    assert all(c.passed for c in judgement.checks)
    # the tokens the answer reports (two images of several tiles each, the prompt, the verdict),
    # priced as the price table prices the judge model
    usage = judgement.usage
    assert usage.model_calls == 1 and usage.input_tokens > 2 * 258 and usage.output_tokens > 0
    tokens = Tokens(input=usage.input_tokens, output_text=usage.output_tokens)
    assert usage.cost_micros == PriceTable().cost_micros("gemini-2.5-flash", tokens) > 0


async def test_each_failed_field_fails_its_rule(judge: GeminiJudge, fake_gemini: FakeGemini) -> None:
    fake_gemini.judge(
        fake.verdict(same_person_score=0.31, free_of_text=False, two_or_three_expression_insets=False)
    )
    judgement = await judge.judge(VARIANT, CANDIDATE, [PARENT])
    assert judgement.identity_score == pytest.approx(0.31)
    assert sorted(c.rule for c in judgement.checks if not c.passed) == ["expression_insets", "no_text"]


async def test_a_first_sheet_gets_no_identity_score(judge: GeminiJudge, fake_gemini: FakeGemini) -> None:
    judgement = await judge.judge(SHEET, CANDIDATE, [])
    assert judgement.identity_score is None
    assert "no reference" in fake_gemini.judge_requests[0]["contents"][0]["parts"][-1]["text"]


@pytest.mark.parametrize(
    ("answer", "error", "reason"),
    [
        (fake.server_error(503), UpstreamUnavailable, "MODEL_UNAVAILABLE"),
        (fake.quota_exhausted(), UpstreamBusy, "MODEL_QUOTA_EXHAUSTED"),
        (fake.text_only(), UpstreamUnavailable, "JUDGE_UNREADABLE"),
        (fake.verdict(same_person_score="very"), UpstreamUnavailable, "JUDGE_UNREADABLE"),
    ],
    ids=["unavailable", "quota", "prose", "off-schema"],
)
async def test_a_judge_that_cannot_answer_says_so_at_once(
    judge: GeminiJudge, fake_gemini: FakeGemini, answer: Answer, error: type[Exception], reason: str
) -> None:
    fake_gemini.judge(answer)
    with pytest.raises(error) as raised:
        await judge.judge(VARIANT, CANDIDATE, [PARENT])
    assert raised.value.reason == reason  # type: ignore[attr-defined]
    assert len(fake_gemini.judge_requests) == 1  # no retry: the drawing is kept unverified instead
