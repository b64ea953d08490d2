"""The whole flow over a real channel: generate → save → branch → cast → read → delete."""

from __future__ import annotations

import asyncio
import hashlib
import io

import grpc
import pytest
from google.protobuf import field_mask_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from PIL import Image as PILImage

from casting.v1 import casting_pb2 as pb
from tests.e2e.rich_errors import details_of

P = "projects/studio-1"
TRAITS = pb.Traits(
    gender=pb.GENDER_FEMALE,
    age_range=pb.AGE_RANGE_TEEN,
    face_traits="round face, green eyes",
    hair_traits="short black bob",
    outfit="blue school uniform",
    mood="cheerful",
)


async def generate(stub, **traits: object) -> pb.Sheet:
    return await stub.GenerateSheet(
        pb.GenerateSheetRequest(
            parent=P,
            story_style="romance",
            image_style="webtoon",
            traits=pb.Traits(**traits) if traits else TRAITS,
        )
    )


async def save(stub, name: str = "Mina") -> pb.Actor:
    sheet = await generate(stub)
    return await stub.SaveActor(pb.SaveActorRequest(parent=P, sheet=sheet.name, display_name=name))


async def read_image(stub, name: str) -> tuple[list[pb.ReadImageResponse], bytes]:
    chunks = [chunk async for chunk in stub.ReadImage(pb.ReadImageRequest(name=name))]
    return chunks, b"".join(c.data for c in chunks)


async def test_health_reports_serving(channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "casting.v1.CastingService"):
        answer = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_list_styles(stub) -> None:
    styles = await stub.ListStyles(pb.ListStylesRequest())
    assert "romance" in [s.id for s in styles.story_styles]
    assert "webtoon" in [s.id for s in styles.image_styles]
    assert all(s.display_name and s.description for s in [*styles.story_styles, *styles.image_styles])


async def test_generate_sheet_returns_an_offline_preview_outside_the_library(stub) -> None:
    sheet = await generate(stub)
    assert sheet.name.startswith(f"{P}/sheets/")
    image = sheet.image
    assert (image.mime_type, image.width, image.height) == ("image/png", 768, 1344)
    assert sheet.generation.generator == "offline"
    assert sheet.expire_time.ToDatetime() > sheet.create_time.ToDatetime()
    assert sheet.actor == ""
    chunks, data = await read_image(stub, image.name)
    assert hashlib.sha256(data).hexdigest() == image.sha256 == chunks[0].sha256
    assert len(data) == image.size_bytes
    assert PILImage.open(io.BytesIO(data)).size == (768, 1344)
    assert (await stub.GetSheet(pb.GetSheetRequest(name=sheet.name))).image == image
    assert list((await stub.ListActors(pb.ListActorsRequest(parent=P))).actors) == []


async def test_save_actor_makes_a_default_base_look_from_the_sheet(stub) -> None:
    sheet = await generate(stub)
    actor = await stub.SaveActor(
        pb.SaveActorRequest(parent=P, sheet=sheet.name, display_name="Mina", description="the lead")
    )
    assert actor.name.startswith(f"{P}/actors/")
    assert (actor.display_name, actor.description, actor.variant_count) == ("Mina", "the lead", 1)
    assert actor.approved  # the seed's rule: saving a preview approves the actor
    (look,) = actor.variants
    assert (look.kind, look.display_name, look.is_default) == (pb.Variant.KIND_BASE, "Default", True)
    assert actor.default_variant == look.name
    assert look.reference_image == sheet.image
    assert look.traits == TRAITS
    assert (await stub.GetSheet(pb.GetSheetRequest(name=sheet.name))).actor == actor.name

    with pytest.raises(grpc.aio.AioRpcError) as twice:
        await stub.SaveActor(pb.SaveActorRequest(parent=P, sheet=sheet.name, display_name="Again"))
    assert details_of(twice.value).code == grpc.StatusCode.FAILED_PRECONDITION
    assert details_of(twice.value).reason == "SHEET_ALREADY_SAVED"


async def test_branch_variant_is_derived_from_its_parent_sheet(stub) -> None:
    actor = await save(stub)
    base = actor.variants[0]
    changes = pb.TraitChanges(outfit="red leather jacket", mood="angry")
    child = await stub.BranchVariant(
        pb.BranchVariantRequest(base_variant=base.name, display_name="Rebel", trait_changes=changes)
    )
    assert (child.kind, child.parent_variant, child.display_name) == (
        pb.Variant.KIND_DERIVED,
        base.name,
        "Rebel",
    )
    assert child.trait_changes == changes
    expected = pb.Traits()
    expected.CopyFrom(TRAITS)
    expected.outfit, expected.mood = "red leather jacket", "angry"
    assert child.traits == expected
    assert list(child.generation.reference_images) == [base.reference_image.name]
    assert child.reference_image.name != base.reference_image.name
    assert (child.reference_image.width, child.reference_image.height) == (768, 1344)

    grandchild = await stub.BranchVariant(
        pb.BranchVariantRequest(
            base_variant=child.name, trait_changes=pb.TraitChanges(hair_traits="long silver hair")
        )
    )
    assert list(grandchild.generation.reference_images) == [
        child.reference_image.name,
        base.reference_image.name,
    ]
    assert grandchild.display_name == "Look 3"
    got = await stub.GetActor(pb.GetActorRequest(name=actor.name))
    assert [v.name for v in got.variants] == [base.name, child.name, grandchild.name]


async def test_story_scoped_looks_and_casting(stub) -> None:
    actor = await save(stub)
    base = actor.variants[0]
    story = f"{P}/stories/chapter-1"
    scoped = await stub.BranchVariant(
        pb.BranchVariantRequest(
            base_variant=base.name, story=story, trait_changes=pb.TraitChanges(outfit="winter coat")
        )
    )
    assert scoped.story == story
    assert [v.name for v in (await stub.GetActor(pb.GetActorRequest(name=actor.name))).variants] == [
        base.name
    ]
    with_story = await stub.GetActor(pb.GetActorRequest(name=actor.name, story=story))
    assert [v.name for v in with_story.variants] == [base.name, scoped.name]

    other = await save(stub, "Jun")
    await stub.CastVariant(pb.CastVariantRequest(variant=base.name, story=story))
    cast = await stub.CastVariant(pb.CastVariantRequest(variant=scoped.name, story=story))
    assert list(cast.cast_stories) == [story]
    await stub.CastVariant(pb.CastVariantRequest(variant=other.variants[0].name, story=story))

    members = (await stub.ListStoryCast(pb.ListStoryCastRequest(parent=story))).cast
    assert {(m.actor, m.variant.name) for m in members} == {
        (actor.name, scoped.name),
        (other.name, other.variants[0].name),
    }
    assert {m.actor_display_name for m in members} == {"Mina", "Jun"}
    base_now = await stub.GetVariant(pb.GetVariantRequest(name=base.name))
    assert list(base_now.cast_stories) == []
    empty = await stub.ListStoryCast(pb.ListStoryCastRequest(parent=f"{P}/stories/chapter-2"))
    assert list(empty.cast) == []


async def test_the_default_moves_and_the_default_cannot_be_deleted(stub) -> None:
    actor = await save(stub)
    base = actor.variants[0]
    child = await stub.BranchVariant(
        pb.BranchVariantRequest(base_variant=base.name, trait_changes=pb.TraitChanges(mood="calm"))
    )
    moved = await stub.UpdateVariant(
        pb.UpdateVariantRequest(
            variant=pb.Variant(name=child.name, is_default=True),
            update_mask=field_mask_pb2.FieldMask(paths=["is_default"]),
        )
    )
    assert moved.is_default
    got = await stub.GetActor(pb.GetActorRequest(name=actor.name))
    assert {v.name: v.is_default for v in got.variants} == {base.name: False, child.name: True}
    assert got.default_variant == child.name

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.DeleteVariant(pb.DeleteVariantRequest(name=child.name))
    found = details_of(refused.value)
    assert (found.code, found.reason, found.domain) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "DEFAULT_VARIANT",
        "casting.webtoon",
    )
    await stub.DeleteVariant(pb.DeleteVariantRequest(name=base.name))
    (left,) = (await stub.GetActor(pb.GetActorRequest(name=actor.name))).variants
    assert (left.name, left.parent_variant, left.is_default) == (child.name, "", True)

    renamed = await stub.UpdateVariant(
        pb.UpdateVariantRequest(variant=pb.Variant(name=child.name, display_name="Calm"))
    )
    assert renamed.display_name == "Calm" and renamed.is_default


async def test_update_and_delete_actor(stub) -> None:
    actor = await save(stub)
    updated = await stub.UpdateActor(
        pb.UpdateActorRequest(
            actor=pb.Actor(name=actor.name, display_name="Mina Park", approved=True, description="ignored"),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name", "approved"]),
        )
    )
    assert (updated.display_name, updated.approved, updated.description) == ("Mina Park", True, "")
    await stub.DeleteActor(pb.DeleteActorRequest(name=actor.name))
    for call in (
        stub.GetActor(pb.GetActorRequest(name=actor.name)),
        stub.GetVariant(pb.GetVariantRequest(name=actor.variants[0].name)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as gone:
            await call
        assert gone.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_deleted_actors_sheet_cannot_come_back(stub) -> None:
    sheet = await generate(stub)
    actor = await stub.SaveActor(pb.SaveActorRequest(parent=P, sheet=sheet.name, display_name="Gone"))
    await stub.DeleteActor(pb.DeleteActorRequest(name=actor.name))
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await stub.GetSheet(pb.GetSheetRequest(name=sheet.name))
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND


async def test_concurrent_saves_of_one_sheet_make_one_actor(stub) -> None:
    sheet = await generate(stub)
    outcomes = await asyncio.gather(
        *(
            stub.SaveActor(pb.SaveActorRequest(parent=P, sheet=sheet.name, display_name=f"Twin {i}"))
            for i in range(4)
        ),
        return_exceptions=True,
    )
    saved = [o for o in outcomes if isinstance(o, pb.Actor)]
    refused = {o.code() for o in outcomes if isinstance(o, grpc.aio.AioRpcError)}
    assert len(saved) == 1
    assert refused <= {grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ABORTED} and refused
    assert len((await stub.ListActors(pb.ListActorsRequest(parent=P))).actors) == 1


def encoded(fmt: str) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (300, 500), (120, 90, 200)).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
async def test_import_actor_from_a_picture(stub, fmt: str, mime: str) -> None:
    actor = await stub.ImportActor(
        pb.ImportActorRequest(parent=P, image_content=encoded(fmt), display_name="Hana", traits=TRAITS)
    )
    assert not actor.approved
    (look,) = actor.variants
    assert (look.kind, look.display_name, look.is_default) == (pb.Variant.KIND_IMPORTED, "Imported", True)
    assert (look.reference_image.mime_type, look.reference_image.width) == (mime, 300)
    _, data = await read_image(stub, look.reference_image.name)
    assert PILImage.open(io.BytesIO(data)).size == (300, 500)
    branched = await stub.BranchVariant(
        pb.BranchVariantRequest(base_variant=look.name, trait_changes=pb.TraitChanges(outfit="knight armor"))
    )
    assert list(branched.generation.reference_images) == [look.reference_image.name]


async def test_list_actors_pages_through_everything(stub) -> None:
    made = [(await save(stub, f"Actor {i}")).name for i in range(5)]
    seen, token = [], ""
    while True:
        page = await stub.ListActors(pb.ListActorsRequest(parent=P, page_size=2, page_token=token))
        assert len(page.actors) <= 2
        seen += [a.name for a in page.actors]
        token = page.next_page_token
        if not token:
            break
    assert seen == list(reversed(made))
    prefixed = await stub.ListActors(pb.ListActorsRequest(parent=P, filter='display_name="Actor 1*"'))
    assert [a.name for a in prefixed.actors] == [made[1]]


async def test_read_image_streams_chunks_of_at_most_one_mebibyte(stub) -> None:
    noise = PILImage.effect_noise((720, 720), 100).convert("RGB")
    buffer = io.BytesIO()
    noise.save(buffer, format="PNG")
    actor = await stub.ImportActor(
        pb.ImportActorRequest(parent=P, image_content=buffer.getvalue(), display_name="Noise")
    )
    image = actor.variants[0].reference_image
    assert image.size_bytes > 1024 * 1024
    chunks, data = await read_image(stub, image.name)
    assert len(chunks) >= 2 and all(len(c.data) <= 1024 * 1024 for c in chunks)
    assert (chunks[0].mime_type, chunks[0].size_bytes) == ("image/png", image.size_bytes)
    assert hashlib.sha256(data).hexdigest() == image.sha256
