"""Every bad request gets a precise status with the field or resource named, never INTERNAL."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.protobuf import field_mask_pb2

from casting.v1 import casting_pb2 as pb
from tests.e2e.rich_errors import Details, details_of
from tests.e2e.test_flow import TRAITS, P, save

INVALID = grpc.StatusCode.INVALID_ARGUMENT


async def failure(call) -> Details:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call
    found = details_of(error.value)
    assert found.domain == "casting.webtoon"
    return found


def sheet_request(**overrides: object) -> pb.GenerateSheetRequest:
    request = pb.GenerateSheetRequest(parent=P, story_style="romance", image_style="webtoon", traits=TRAITS)
    for name, value in overrides.items():
        if name.startswith("traits."):
            setattr(request.traits, name.removeprefix("traits."), value)
        else:
            setattr(request, name, value)
    return request


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"parent": ""}, ["parent"]),
        ({"parent": "projects/Bad_Project"}, ["parent"]),
        ({"story_style": "", "image_style": "oil-painting"}, ["story_style", "image_style"]),
        ({"traits.hair_traits": "h" * 501}, ["traits.hair_traits"]),
        ({"traits.gender": 42}, ["traits.gender"]),
        ({"request_id": "spaces are not allowed"}, ["request_id"]),
    ],
)
async def test_generate_sheet_refuses_bad_input(
    stub, overrides: dict[str, object], fields: list[str]
) -> None:
    found = await failure(stub.GenerateSheet(sheet_request(**overrides)))
    assert (found.code, found.reason, found.fields) == (INVALID, "INVALID_REQUEST", fields)


async def test_save_actor_refuses_bad_input(stub) -> None:
    sheet = await stub.GenerateSheet(sheet_request())
    assert (await failure(stub.SaveActor(pb.SaveActorRequest(parent=P, sheet=sheet.name)))).fields == [
        "display_name"
    ]
    long_name = pb.SaveActorRequest(parent=P, sheet=sheet.name, display_name="n" * 129)
    assert (await failure(stub.SaveActor(long_name))).fields == ["display_name"]
    malformed = pb.SaveActorRequest(parent=P, sheet="sheets/1", display_name="Mina")
    assert (await failure(stub.SaveActor(malformed))).fields == ["sheet"]
    unknown = f"{P}/sheets/{uuid.uuid4()}"
    found = await failure(stub.SaveActor(pb.SaveActorRequest(parent=P, sheet=unknown, display_name="Mina")))
    assert (found.code, found.resource_name) == (grpc.StatusCode.NOT_FOUND, unknown)


@pytest.mark.parametrize(
    ("method", "request_", "field"),
    [
        ("GetActor", pb.GetActorRequest(name="actors/1"), "name"),
        ("GetActor", pb.GetActorRequest(name=f"{P}/actors/{uuid.uuid4()}", story="stories/x"), "story"),
        (
            "GetActor",
            pb.GetActorRequest(name=f"{P}/actors/{uuid.uuid4()}", story="projects/other/stories/x"),
            "story",
        ),
        ("GetVariant", pb.GetVariantRequest(name=f"{P}/actors/{uuid.uuid4()}"), "name"),
        ("GetSheet", pb.GetSheetRequest(name=f"{P}/sheets/not-a-uuid"), "name"),
        ("ReadImage", pb.ReadImageRequest(name=""), "name"),
        ("ListActors", pb.ListActorsRequest(parent=P, page_token="garbage"), "page_token"),
        ("ListActors", pb.ListActorsRequest(parent=P, filter="owner=me"), "filter"),
        ("ListActors", pb.ListActorsRequest(parent=P, page_size=-1), "page_size"),
        ("ListStoryCast", pb.ListStoryCastRequest(parent=P), "parent"),
        (
            "CastVariant",
            pb.CastVariantRequest(variant=f"{P}/actors/{uuid.uuid4()}/variants/{uuid.uuid4()}"),
            "story",
        ),
        ("DeleteActor", pb.DeleteActorRequest(name=f"{P}/actors/../../etc"), "name"),
        (
            "ImportActor",
            pb.ImportActorRequest(parent=P, display_name="X", image_content=b"not an image"),
            "image_content",
        ),
        ("ImportActor", pb.ImportActorRequest(parent=P, display_name="X"), "image_content"),
    ],
)
async def test_malformed_requests_name_the_field(stub, method: str, request_, field: str) -> None:
    call = getattr(stub, method)(request_)
    found = await failure(call.read() if method == "ReadImage" else call)
    assert (found.code, found.fields) == (INVALID, [field])


async def test_update_masks_are_checked(stub) -> None:
    actor = await save(stub)
    bad_path = pb.UpdateActorRequest(
        actor=pb.Actor(name=actor.name), update_mask=field_mask_pb2.FieldMask(paths=["variants"])
    )
    assert (await failure(stub.UpdateActor(bad_path))).fields == ["update_mask"]
    nothing = pb.UpdateActorRequest(actor=pb.Actor(name=actor.name))
    assert (await failure(stub.UpdateActor(nothing))).fields == ["update_mask"]
    unknown_style = pb.UpdateActorRequest(
        actor=pb.Actor(name=actor.name, default_story_style="opera"),
        update_mask=field_mask_pb2.FieldMask(paths=["default_story_style"]),
    )
    assert (await failure(stub.UpdateActor(unknown_style))).fields == ["actor.default_story_style"]
    unset_default = pb.UpdateVariantRequest(
        variant=pb.Variant(name=actor.variants[0].name, is_default=False),
        update_mask=field_mask_pb2.FieldMask(paths=["is_default"]),
    )
    assert (await failure(stub.UpdateVariant(unset_default))).fields == ["variant.is_default"]


async def test_branch_refuses_bad_changes(stub) -> None:
    actor = await save(stub)
    base = actor.variants[0].name
    nothing = pb.BranchVariantRequest(base_variant=base)
    assert (await failure(stub.BranchVariant(nothing))).fields == ["trait_changes"]
    too_long = pb.BranchVariantRequest(base_variant=base, trait_changes=pb.TraitChanges(outfit="o" * 501))
    assert (await failure(stub.BranchVariant(too_long))).fields == ["trait_changes.outfit"]
    missing = pb.BranchVariantRequest(
        base_variant=f"{actor.name}/variants/{uuid.uuid4()}", trait_changes=pb.TraitChanges(mood="sad")
    )
    assert (await failure(stub.BranchVariant(missing))).code == grpc.StatusCode.NOT_FOUND
