"""Candidates over the wire with the embedded default: several first sheets or derived
previews at once, each measured by the offline judge, and the picked one committed."""

from __future__ import annotations

import grpc
import pytest

from casting.v1 import casting_pb2 as pb
from tests.e2e.rich_errors import details_of
from tests.e2e.test_flow import TRAITS, P

COAT = pb.TraitChanges(outfit="red winter coat", mood="wistful")
MAX_DRAWS = 3


async def new_actor(stub) -> pb.Actor:
    sheet = await stub.GenerateSheet(
        pb.GenerateSheetRequest(parent=P, story_style="romance", image_style="webtoon", traits=TRAITS)
    )
    return await stub.SaveActor(pb.SaveActorRequest(parent=P, sheet=sheet.name, display_name="Mina"))


async def test_four_first_sheet_candidates_each_measured(stub) -> None:
    answer = await stub.GenerateSheets(
        pb.GenerateSheetsRequest(
            parent=P, story_style="romance", image_style="webtoon", traits=TRAITS, candidate_count=4
        )
    )
    assert len(answer.sheets) == len({s.name for s in answer.sheets}) == 4
    for sheet in answer.sheets:
        verification = sheet.generation.verification
        assert verification.passed and verification.judge == "offline" and verification.draws == 1
        assert not verification.HasField("identity_score")  # nothing to compare a first sheet with
        assert {c.rule for c in verification.checks} >= {"aspect_9_16", "full_body", "expression_insets"}
        assert not sheet.base_variant


async def test_derived_previews_then_the_picked_one_is_the_new_look(stub) -> None:
    actor = await new_actor(stub)
    story = f"{P}/stories/winter-arc"
    answer = await stub.GenerateSheets(
        pb.GenerateSheetsRequest(
            parent=P,
            base_variant=actor.default_variant,
            trait_changes=COAT,
            story=story,
            candidate_count=2,
        )
    )
    for sheet in answer.sheets:
        assert (sheet.base_variant, sheet.story) == (actor.default_variant, story)
        assert sheet.traits.outfit == "red winter coat" and sheet.traits.hair_traits == TRAITS.hair_traits
        assert sheet.generation.verification.identity_score >= 0.9  # the same face, measured
        assert list(sheet.generation.reference_images) == [actor.variants[0].reference_image.name]
    picked = answer.sheets[1]
    look = await stub.BranchVariant(
        pb.BranchVariantRequest(base_variant=actor.default_variant, sheet=picked.name, display_name="Winter")
    )
    assert look.reference_image.name == picked.image.name  # no new drawing
    assert (look.parent_variant, look.story, look.display_name) == (
        actor.default_variant,
        story,
        "Winter",
    )
    assert look.trait_changes.outfit == "red winter coat"
    assert look.generation.verification == picked.generation.verification

    again = await stub.GetActor(pb.GetActorRequest(name=actor.name, story=story))
    assert [v.name for v in again.variants][-1] == look.name


async def test_a_derived_preview_is_no_actor_and_a_first_sheet_no_look(stub) -> None:
    actor = await new_actor(stub)
    (preview,) = (
        await stub.GenerateSheets(
            pb.GenerateSheetsRequest(parent=P, base_variant=actor.default_variant, trait_changes=COAT)
        )
    ).sheets
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.SaveActor(pb.SaveActorRequest(parent=P, sheet=preview.name, display_name="Copy"))
    assert (details_of(error.value).code, details_of(error.value).reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "SHEET_IS_DERIVED",
    )
    first = await stub.GenerateSheet(
        pb.GenerateSheetRequest(parent=P, story_style="romance", image_style="webtoon")
    )
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.BranchVariant(
            pb.BranchVariantRequest(base_variant=actor.default_variant, sheet=first.name)
        )
    assert (details_of(error.value).code, details_of(error.value).reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "SHEET_NOT_DERIVED",
    )


async def test_a_branch_without_a_sheet_is_drawn_and_verified(stub) -> None:
    actor = await new_actor(stub)
    look = await stub.BranchVariant(
        pb.BranchVariantRequest(base_variant=actor.default_variant, trait_changes=COAT)
    )
    verification = look.generation.verification
    assert verification.passed and verification.judge == "offline" and verification.identity_score >= 0.9
    assert {c.rule: c.passed for c in verification.checks}["identity"]
