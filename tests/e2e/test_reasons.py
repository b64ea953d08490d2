"""Every error reason the README documents, produced by a real call and decoded from the
google.rpc.Status details a client receives. Model faults come from the local fake of
Gemini's REST API, through the real SDK."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import pytest
from google.protobuf import field_mask_pb2

from casting.server.container import Container
from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.e2e.conftest import drawing_with_gemini
from tests.e2e.rich_errors import Details, details_of
from tests.e2e.test_flow import P
from tests.support import fake_gemini as gemini
from tests.support.fake_gemini import FakeGemini

README = Path(__file__).resolve().parents[2] / "README.md"
Stub = casting_pb2_grpc.CastingServiceStub
STORY_1, STORY_2 = f"{P}/stories/chapter-1", f"{P}/stories/chapter-2"
# Reasons whose cause needs a fixture of its own; each module named here decodes them.
PROVEN_ELSEWHERE = {
    "CONCURRENT_CHANGE": "test_storage.py",
    "STORAGE_UNAVAILABLE": "test_storage_outage.py",
    "INTERNAL": "test_faults.py",
    "UNAUTHENTICATED": "test_auth.py",
    "PERMISSION_DENIED": "test_auth.py",
    "BUDGET_EXCEEDED": "test_budgets.py",
    "SHEET_IS_DERIVED": "test_candidates.py",
    "SHEET_NOT_DERIVED": "test_candidates.py",
    "VERIFICATION_FAILED": "test_verification.py",
}


@pytest.fixture
def container(container: Container, fake_gemini: FakeGemini) -> Container:
    return drawing_with_gemini(container, fake_gemini, gemini_max_attempts=2)


def sheet_request() -> pb.GenerateSheetRequest:
    return pb.GenerateSheetRequest(parent=P, story_style="romance", image_style="anime")


async def saved(stub: Stub) -> pb.Actor:
    sheet = await stub.GenerateSheet(sheet_request())
    return await stub.SaveActor(pb.SaveActorRequest(parent=P, sheet=sheet.name, display_name="Mina"))


async def story_look(stub: Stub) -> pb.Variant:
    base = (await saved(stub)).variants[0]
    return await stub.BranchVariant(
        pb.BranchVariantRequest(
            base_variant=base.name, story=STORY_1, trait_changes=pb.TraitChanges(outfit="coat")
        )
    )


async def invalid_request(stub: Stub, fake: FakeGemini) -> None:
    await stub.GenerateSheet(pb.GenerateSheetRequest(parent=P))


async def resource_not_found(stub: Stub, fake: FakeGemini) -> None:
    await stub.GetActor(pb.GetActorRequest(name=f"{P}/actors/00000000-0000-4000-8000-000000000000"))


async def sheet_already_saved(stub: Stub, fake: FakeGemini) -> None:
    sheet = await stub.GenerateSheet(sheet_request())
    for _ in range(2):
        await stub.SaveActor(pb.SaveActorRequest(parent=P, sheet=sheet.name, display_name="Twice"))


async def default_variant(stub: Stub, fake: FakeGemini) -> None:
    await stub.DeleteVariant(pb.DeleteVariantRequest(name=(await saved(stub)).variants[0].name))


async def parent_in_other_story(stub: Stub, fake: FakeGemini) -> None:
    look = await story_look(stub)
    await stub.BranchVariant(
        pb.BranchVariantRequest(
            base_variant=look.name, story=STORY_2, trait_changes=pb.TraitChanges(mood="sad")
        )
    )


async def variant_in_other_story(stub: Stub, fake: FakeGemini) -> None:
    await stub.CastVariant(pb.CastVariantRequest(variant=(await story_look(stub)).name, story=STORY_2))


async def story_variant_cannot_be_default(stub: Stub, fake: FakeGemini) -> None:
    look = await story_look(stub)
    await stub.UpdateVariant(
        pb.UpdateVariantRequest(
            variant=pb.Variant(name=look.name, is_default=True),
            update_mask=field_mask_pb2.FieldMask(paths=["is_default"]),
        )
    )


def model_answers(*answers: gemini.Answer) -> Callable[[Stub, FakeGemini], Awaitable[None]]:
    async def generate(stub: Stub, fake: FakeGemini) -> None:
        fake.script(*answers)
        await stub.GenerateSheet(sheet_request())

    return generate


SQUARE = gemini.image(gemini.picture(size=(512, 512)))
CASES: dict[str, tuple[grpc.StatusCode, Callable[[Stub, FakeGemini], Awaitable[None]]]] = {
    "INVALID_REQUEST": (grpc.StatusCode.INVALID_ARGUMENT, invalid_request),
    "RESOURCE_NOT_FOUND": (grpc.StatusCode.NOT_FOUND, resource_not_found),
    "SHEET_ALREADY_SAVED": (grpc.StatusCode.FAILED_PRECONDITION, sheet_already_saved),
    "DEFAULT_VARIANT": (grpc.StatusCode.FAILED_PRECONDITION, default_variant),
    "PARENT_IN_OTHER_STORY": (grpc.StatusCode.FAILED_PRECONDITION, parent_in_other_story),
    "VARIANT_IN_OTHER_STORY": (grpc.StatusCode.FAILED_PRECONDITION, variant_in_other_story),
    "STORY_VARIANT_CANNOT_BE_DEFAULT": (grpc.StatusCode.FAILED_PRECONDITION, story_variant_cannot_be_default),
    "GENERATION_BLOCKED": (
        grpc.StatusCode.FAILED_PRECONDITION,
        model_answers(gemini.finished("IMAGE_SAFETY")),
    ),
    "MODEL_QUOTA_EXHAUSTED": (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        model_answers(gemini.quota_exhausted("0.1s"), gemini.quota_exhausted("0.1s")),
    ),
    "MODEL_UNAVAILABLE": (
        grpc.StatusCode.UNAVAILABLE,
        model_answers(gemini.server_error(503), gemini.server_error(503)),
    ),
    "NO_IMAGE": (grpc.StatusCode.UNAVAILABLE, model_answers(gemini.text_only(), gemini.no_candidates())),
    "INVALID_MODEL_IMAGE": (grpc.StatusCode.UNAVAILABLE, model_answers(SQUARE, SQUARE)),
    "MODEL_REJECTED_REQUEST": (grpc.StatusCode.UNAVAILABLE, model_answers(gemini.invalid_argument())),
}


def documented_reasons() -> set[str]:
    table = README.read_text().split("## Errors", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[2] for line in table.splitlines() if line.startswith("| ") and "`" in line]
    return {reason for row in rows for reason in re.findall(r"`([A-Z_]+)`", row)}


def test_every_documented_reason_is_proven_by_a_test() -> None:
    assert documented_reasons() == set(CASES) | set(PROVEN_ELSEWHERE)
    here = Path(__file__).parent
    for reason, module in PROVEN_ELSEWHERE.items():
        assert reason in (here / module).read_text(), f"{module} does not check {reason}"


@pytest.mark.parametrize("reason", sorted(CASES))
async def test_a_real_call_carries_the_documented_reason(
    stub: Stub, fake_gemini: FakeGemini, reason: str
) -> None:
    code, cause = CASES[reason]
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await cause(stub, fake_gemini)
    found: Details = details_of(error.value)
    assert (found.code, found.reason, found.domain) == (code, reason, "casting.webtoon")
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        assert found.fields
    if code == grpc.StatusCode.NOT_FOUND:
        assert found.resource_name
    if code in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE):
        assert found.retry_seconds is not None
    if reason == "GENERATION_BLOCKED":
        assert found.metadata == {"model_reason": "IMAGE_SAFETY"}
