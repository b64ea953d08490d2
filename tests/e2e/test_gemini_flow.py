"""The real server with CASTING_GENERATOR=gemini, the real SDK talking to a local fake of
Gemini's REST API: the whole flow, and what a caller sees when the model refuses or is busy."""

from __future__ import annotations

import base64

import grpc
import pytest

from casting.server.container import Container
from casting.server.main import running
from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.e2e.conftest import drawing_with_gemini
from tests.e2e.rich_errors import details_of
from tests.e2e.test_flow import TRAITS, P, read_image
from tests.support import fake_gemini as gemini
from tests.support.fake_gemini import FakeGemini


@pytest.fixture
def container(container: Container, fake_gemini: FakeGemini) -> Container:
    return drawing_with_gemini(container, fake_gemini, gemini_max_attempts=2)


def inline_images(request: dict) -> list[bytes]:
    parts = request["contents"][0]["parts"]
    return [base64.urlsafe_b64decode(p["inlineData"]["data"]) for p in parts if "inlineData" in p]


def prompt_of(request: dict) -> str:
    return " ".join(p["text"] for p in request["contents"][0]["parts"] if "text" in p)


async def test_generate_save_branch_with_gemini(stub, fake_gemini: FakeGemini) -> None:
    sheet = await stub.GenerateSheet(
        pb.GenerateSheetRequest(parent=P, story_style="romance", image_style="webtoon", traits=TRAITS)
    )
    assert (sheet.generation.generator, sheet.generation.model) == ("gemini", "gemini-2.5-flash-image")
    assert sheet.generation.prompt_version and len(sheet.generation.prompt_sha256) == 64
    first = fake_gemini.image_requests[0]
    assert first["generationConfig"]["responseModalities"] == ["IMAGE"]
    assert first["generationConfig"]["imageConfig"]["aspectRatio"] == "9:16"
    assert inline_images(first) == []
    assert "short black bob" in prompt_of(first)

    actor = await stub.SaveActor(pb.SaveActorRequest(parent=P, sheet=sheet.name, display_name="Mina"))
    base = actor.variants[0]
    fake_gemini.script(gemini.image(gemini.picture(image_format="JPEG")))
    child = await stub.BranchVariant(
        pb.BranchVariantRequest(base_variant=base.name, trait_changes=pb.TraitChanges(outfit="red hoodie"))
    )
    _, parent_bytes = await read_image(stub, base.reference_image.name)
    assert inline_images(fake_gemini.image_requests[1]) == [parent_bytes]
    assert "red hoodie" in prompt_of(fake_gemini.image_requests[1])
    assert child.reference_image.mime_type == "image/jpeg"

    grandchild = await stub.BranchVariant(
        pb.BranchVariantRequest(base_variant=child.name, trait_changes=pb.TraitChanges(mood="furious"))
    )
    _, child_bytes = await read_image(stub, child.reference_image.name)
    assert inline_images(fake_gemini.image_requests[2]) == [child_bytes, parent_bytes]
    assert list(grandchild.generation.reference_images) == [
        child.reference_image.name,
        base.reference_image.name,
    ]
    # every drawing was judged against the same references, the drawing itself last
    _, grandchild_bytes = await read_image(stub, grandchild.reference_image.name)
    assert inline_images(fake_gemini.judge_requests[-1]) == [child_bytes, parent_bytes, grandchild_bytes]
    assert grandchild.generation.verification.judge == "gemini:gemini-2.5-flash"
    assert grandchild.generation.verification.passed


async def test_a_safety_block_is_failed_precondition_and_stores_nothing(
    stub, fake_gemini: FakeGemini
) -> None:
    fake_gemini.script(gemini.finished("IMAGE_SAFETY"))
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.GenerateSheet(pb.GenerateSheetRequest(parent=P, story_style="horror", image_style="anime"))
    found = details_of(error.value)
    assert (found.code, found.reason, found.metadata) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "GENERATION_BLOCKED",
        {"model_reason": "IMAGE_SAFETY"},
    )
    assert len(fake_gemini.requests) == 1
    assert list((await stub.ListActors(pb.ListActorsRequest(parent=P))).actors) == []


async def test_quota_exhausted_is_resource_exhausted_with_retry_info(stub, fake_gemini: FakeGemini) -> None:
    fake_gemini.script(gemini.quota_exhausted("0.2s"), gemini.quota_exhausted("7s"))
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.GenerateSheet(pb.GenerateSheetRequest(parent=P, story_style="action", image_style="anime"))
    found = details_of(error.value)
    assert (found.code, found.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "MODEL_QUOTA_EXHAUSTED")
    assert found.retry_seconds is not None and found.retry_seconds >= 1
    assert len(fake_gemini.requests) == 2


async def test_a_model_image_of_the_wrong_shape_is_redrawn_then_refused(
    stub, fake_gemini: FakeGemini
) -> None:
    square = gemini.image(gemini.picture(size=(512, 512)))
    fake_gemini.script(square, square)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.GenerateSheet(pb.GenerateSheetRequest(parent=P, story_style="action", image_style="anime"))
    found = details_of(error.value)
    assert (found.code, found.reason) == (grpc.StatusCode.UNAVAILABLE, "INVALID_MODEL_IMAGE")
    assert len(fake_gemini.requests) == 2


async def test_a_drawing_no_caller_bounds_ends_at_the_generation_timeout(
    container: Container, fake_gemini: FakeGemini
) -> None:
    """Each attempt may take 30 s and there are retries, but the whole drawing gets 0.5 s."""
    drawing_with_gemini(
        container,
        fake_gemini,
        gemini_timeout_seconds=30,
        gemini_max_attempts=3,
        generation_timeout_seconds=0.5,
    )
    fake_gemini.script(*[gemini.hang(30)] * 3)
    async with running(container) as live, grpc.aio.insecure_channel(f"127.0.0.1:{live.port}") as channel:
        stub = casting_pb2_grpc.CastingServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.GenerateSheet(
                pb.GenerateSheetRequest(parent=P, story_style="horror", image_style="anime")
            )

    found = details_of(error.value)
    assert (found.code, found.reason) == (grpc.StatusCode.UNAVAILABLE, "MODEL_UNAVAILABLE")
    assert len(fake_gemini.requests) == 1


async def test_a_size_the_model_does_not_draw_is_invalid_and_calls_no_model(
    stub, fake_gemini: FakeGemini
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.GenerateSheet(
            pb.GenerateSheetRequest(
                parent=P, story_style="romance", image_style="webtoon", image_size=pb.IMAGE_SIZE_4K
            )
        )

    found = details_of(error.value)
    assert (found.code, found.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["image_size"])
    assert "gemini-2.5-flash-image draws 1K only" in found.message
    assert fake_gemini.requests == []


async def test_a_model_that_draws_larger_sizes_is_asked_for_them(
    container: Container, fake_gemini: FakeGemini
) -> None:
    drawing_with_gemini(container, fake_gemini, gemini_model="gemini-3-pro-image-preview")
    async with running(container) as live, grpc.aio.insecure_channel(f"127.0.0.1:{live.port}") as channel:
        stub = casting_pb2_grpc.CastingServiceStub(channel)
        sheet = await stub.GenerateSheet(
            pb.GenerateSheetRequest(
                parent=P, story_style="romance", image_style="webtoon", image_size=pb.IMAGE_SIZE_4K
            )
        )
        actor = await stub.SaveActor(pb.SaveActorRequest(parent=P, sheet=sheet.name, display_name="Mina"))
        await stub.BranchVariant(
            pb.BranchVariantRequest(
                base_variant=actor.variants[0].name,
                trait_changes=pb.TraitChanges(mood="wistful"),
                image_size=pb.IMAGE_SIZE_2K,
            )
        )

    sizes = [r["generationConfig"]["imageConfig"].get("imageSize") for r in fake_gemini.image_requests]
    assert sizes == ["4K", "2K"]
    assert sheet.generation.model == "gemini-3-pro-image-preview"
    assert sheet.generation.usage.cost_micros >= 2000 * 120  # a 4K image: 2000 tokens at $120 a million
