"""Verified drawings over the wire with the Gemini judge (the real SDK in JSON mode against the
local stand-in): the redraw bound, the ranking, require_verified, an outage, idempotent retries."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from casting.server.container import Container
from casting.server.main import running
from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.e2e.conftest import drawing_with_gemini
from tests.e2e.rich_errors import details_of
from tests.e2e.test_candidates import COAT, new_actor
from tests.e2e.test_flow import P
from tests.support import fake_gemini as gemini
from tests.support.fake_gemini import FakeGemini

MAX_DRAWS = 3


def blob_count(container: Container) -> int:
    root = Path(container.settings().blob_url.removeprefix("file://"))
    return sum(1 for path in root.rglob("*") if path.is_file())


def rules_failed(sheet: pb.Sheet) -> list[str]:
    return [c.rule for c in sheet.generation.verification.checks if not c.passed]


@pytest.fixture
def container(container: Container, fake_gemini: FakeGemini) -> Container:
    return drawing_with_gemini(container, fake_gemini, gemini_max_attempts=1, max_draws=MAX_DRAWS)


async def test_a_judge_that_always_fails_gets_max_draws_drawings_per_candidate(
    stub, fake_gemini: FakeGemini
) -> None:
    actor = await new_actor(stub)
    before = len(fake_gemini.image_requests)
    fake_gemini.judging = gemini.verdict(same_person_score=0.2, free_of_text=False)
    answer = await stub.GenerateSheets(
        pb.GenerateSheetsRequest(
            parent=P, base_variant=actor.default_variant, trait_changes=COAT, candidate_count=2
        )
    )
    assert len(fake_gemini.image_requests) - before == 2 * MAX_DRAWS
    for sheet in answer.sheets:
        verification = sheet.generation.verification
        assert not verification.passed and verification.draws == MAX_DRAWS
        assert verification.identity_score == pytest.approx(0.2)
        assert rules_failed(sheet) == ["identity", "no_text"]
        # every drawing and every judgement is counted in what the result cost
        assert sheet.generation.usage.model_calls >= MAX_DRAWS
        assert sheet.generation.usage.input_tokens >= MAX_DRAWS * (2 * 258 + 400)


async def test_require_verified_refuses_and_stores_nothing(
    stub, fake_gemini: FakeGemini, container: Container
) -> None:
    actor = await new_actor(stub)
    fake_gemini.judging = gemini.verdict(same_person_score=0.1)
    blobs = blob_count(container)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.GenerateSheets(
            pb.GenerateSheetsRequest(
                parent=P, base_variant=actor.default_variant, trait_changes=COAT, require_verified=True
            )
        )
    found = details_of(error.value)
    assert (found.code, found.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "VERIFICATION_FAILED")
    assert "identity" in found.message
    assert blob_count(container) == blobs
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.BranchVariant(
            pb.BranchVariantRequest(
                base_variant=actor.default_variant, trait_changes=COAT, require_verified=True
            )
        )
    assert details_of(error.value).reason == "VERIFICATION_FAILED"
    assert len((await stub.GetActor(pb.GetActorRequest(name=actor.name))).variants) == 1


async def test_candidates_come_passed_first_then_by_identity(stub, fake_gemini: FakeGemini) -> None:
    actor = await new_actor(stub)
    fake_gemini.judge(
        gemini.verdict(same_person_score=0.55),
        gemini.verdict(same_person_score=0.93),
        gemini.verdict(same_person_score=0.81),
    )
    fake_gemini.judging = gemini.verdict(same_person_score=0.3)
    answer = await stub.GenerateSheets(
        pb.GenerateSheetsRequest(
            parent=P, base_variant=actor.default_variant, trait_changes=COAT, candidate_count=3
        )
    )
    verdicts = [
        (s.generation.verification.passed, s.generation.verification.identity_score) for s in answer.sheets
    ]
    assert verdicts == sorted(verdicts, reverse=True)
    assert [passed for passed, _ in verdicts] == [True, True, False]
    assert verdicts[0][1] == pytest.approx(0.93)


async def test_a_judge_outage_keeps_the_drawing_unverified(stub, fake_gemini: FakeGemini) -> None:
    fake_gemini.judging = gemini.server_error(503)
    sheet = await stub.GenerateSheet(
        pb.GenerateSheetRequest(parent=P, story_style="romance", image_style="webtoon", require_verified=True)
    )
    verification = sheet.generation.verification
    assert not verification.passed and "judge could not answer" in verification.unverified_reason
    assert len(fake_gemini.image_requests) == 1 and len(fake_gemini.judge_requests) == 1
    assert (await stub.GetSheet(pb.GetSheetRequest(name=sheet.name))).image.name == sheet.image.name


async def test_a_retried_request_makes_no_new_model_call(stub, fake_gemini: FakeGemini) -> None:
    request = pb.GenerateSheetsRequest(
        parent=P, story_style="romance", image_style="webtoon", candidate_count=3, request_id="pick-4f2a"
    )
    first = await stub.GenerateSheets(request)
    calls = len(fake_gemini.requests)
    again = await stub.GenerateSheets(request)
    assert [s.name for s in again.sheets] == [s.name for s in first.sheets]
    assert len(fake_gemini.requests) == calls == 6  # three drawings, three judgements
    # "Regenerate": the same request under a new id is drawn again
    request.request_id = "pick-4f2b"
    other = await stub.GenerateSheets(request)
    assert not {s.name for s in other.sheets} & {s.name for s in first.sheets}


async def test_verification_off_draws_once_and_says_so(container: Container, fake_gemini: FakeGemini) -> None:
    drawing_with_gemini(container, fake_gemini, verify="off")
    fake_gemini.judging = gemini.verdict(same_person_score=0.0)
    async with running(container) as live, grpc.aio.insecure_channel(f"127.0.0.1:{live.port}") as channel:
        stub = casting_pb2_grpc.CastingServiceStub(channel)
        sheet = await stub.GenerateSheet(
            pb.GenerateSheetRequest(parent=P, story_style="romance", image_style="webtoon")
        )
    assert sheet.generation.verification.unverified_reason == "verification is off"
    assert fake_gemini.judge_requests == []


async def test_list_actors_finds_the_ones_with_a_look_that_failed(stub, fake_gemini: FakeGemini) -> None:
    steady, drifted = await new_actor(stub), await new_actor(stub)
    fake_gemini.judging = gemini.verdict(same_person_score=0.35)
    look = await stub.BranchVariant(
        pb.BranchVariantRequest(base_variant=drifted.default_variant, trait_changes=COAT)
    )
    assert not look.generation.verification.passed

    failed = await stub.ListActors(pb.ListActorsRequest(parent=P, filter="verified=false"))
    assert [a.name for a in failed.actors] == [drifted.name]
    fine = await stub.ListActors(pb.ListActorsRequest(parent=P, filter="verified = true"))
    assert [a.name for a in fine.actors] == [steady.name]
