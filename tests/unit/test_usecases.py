"""The use-cases against in-memory fakes: the behaviour a caller sees, without I/O."""

from __future__ import annotations

import asyncio

import pytest

from casting.domain.errors import (
    InvalidInput,
    NotFound,
    PreconditionFailed,
    UpstreamBusy,
    UpstreamUnavailable,
)
from casting.domain.model import VariantKind
from casting.domain.usecases.actors import ActorPatch, ImportActorCommand, SaveActorCommand
from casting.domain.usecases.candidates import GenerateSheetCommand
from casting.domain.usecases.variants import BranchVariantCommand, VariantPatch
from casting.domain.values import INVISIBLE_CHARACTERS, AgeRange, Gender, TraitChanges, Traits
from tests.unit.conftest import SHEET_TTL, App
from tests.unit.fakes import png

P = "studio-1"
TRAITS = Traits(gender=Gender.FEMALE, age_range=AgeRange.TEEN, hair_traits="short black bob", mood="cheerful")


def sheet_command(**overrides: object) -> GenerateSheetCommand:
    values: dict[str, object] = {
        "project": P,
        "story_style": "romance",
        "image_style": "webtoon",
        "traits": TRAITS,
    }
    return GenerateSheetCommand(**(values | overrides))  # type: ignore[arg-type]


async def saved_actor(app: App, name: str = "Mina"):
    sheet = await app.generate_sheet(sheet_command())
    return await app.save_actor(SaveActorCommand(P, sheet.id, name))


def violated_fields(error: InvalidInput) -> set[str]:
    return {v.field for v in error.violations}


async def test_generated_sheet_is_a_stored_preview_not_in_the_library(app: App) -> None:
    sheet = await app.generate_sheet(sheet_command())
    assert sheet.image.mime_type == "image/png"
    assert app.blobs.blobs[sheet.image.blob_key]  # the bytes are stored
    assert sheet.provenance.generator == "fake"
    assert sheet.expire_time - sheet.create_time == SHEET_TTL
    assert (await app.get_sheet(P, sheet.id)).id == sheet.id
    assert (await app.list_actors(P, 0, "", "")).actors == []


async def test_saving_a_sheet_makes_an_actor_with_a_default_base_look(app: App) -> None:
    sheet = await app.generate_sheet(sheet_command())
    view = await app.save_actor(SaveActorCommand(P, sheet.id, "Mina", "the lead"))
    assert view.actor.approved  # the seed's rule: saving a preview approves the actor
    (look,) = view.variants
    assert (look.kind, look.display_name, look.is_default) == (VariantKind.BASE, "Default", True)
    assert look.reference_image == sheet.image
    assert look.traits == TRAITS
    assert (await app.get_sheet(P, sheet.id)).actor_id == view.actor.id

    with pytest.raises(PreconditionFailed) as saved_twice:
        await app.save_actor(SaveActorCommand(P, sheet.id, "Mina again"))
    assert saved_twice.value.reason == "SHEET_ALREADY_SAVED"


async def test_unknown_expired_and_foreign_sheets_are_not_found(app: App) -> None:
    sheet = await app.generate_sheet(sheet_command())
    with pytest.raises(NotFound):
        await app.save_actor(SaveActorCommand("other-project", sheet.id, "Thief"))
    with pytest.raises(NotFound):
        await app.save_actor(SaveActorCommand(P, "00000000-0000-4000-8000-999999999999", "Nobody"))
    app.clock.advance(SHEET_TTL)
    with pytest.raises(NotFound):
        await app.get_sheet(P, sheet.id)
    with pytest.raises(NotFound):
        await app.save_actor(SaveActorCommand(P, sheet.id, "Too late"))


async def test_branching_sends_the_parent_sheet_first_and_applies_only_the_changes(app: App) -> None:
    view = await saved_actor(app)
    base = view.variants[0]
    changes = TraitChanges(outfit="red hoodie", mood="angry")
    child = await app.branch_variant(BranchVariantCommand(P, view.actor.id, base.id, trait_changes=changes))
    look = child.variant
    assert (look.kind, look.parent_id) == (VariantKind.DERIVED, base.id)
    assert look.traits == Traits(
        gender=Gender.FEMALE,
        age_range=AgeRange.TEEN,
        hair_traits="short black bob",
        outfit="red hoodie",
        mood="angry",
    )
    spec, references = app.generator.calls[-1]
    assert spec.changes == changes and spec.base_traits == TRAITS
    assert [r.data for r in references] == [app.blobs.blobs[base.reference_image.blob_key]]
    assert look.provenance.reference_image_ids == (base.reference_image.id,)

    grandchild = await app.branch_variant(
        BranchVariantCommand(P, view.actor.id, look.id, trait_changes=TraitChanges(hair_traits="long silver"))
    )
    _, references = app.generator.calls[-1]
    assert [r.data for r in references] == [
        app.blobs.blobs[look.reference_image.blob_key],  # the parent, the identity anchor
        app.blobs.blobs[base.reference_image.blob_key],  # the root, against drift
    ]
    assert grandchild.variant.traits.outfit == "red hoodie"


async def test_a_branch_must_change_something(app: App) -> None:
    view = await saved_actor(app)
    with pytest.raises(InvalidInput) as error:
        await app.branch_variant(BranchVariantCommand(P, view.actor.id, view.variants[0].id))
    assert violated_fields(error.value) == {"trait_changes"}
    restyled = await app.branch_variant(
        BranchVariantCommand(P, view.actor.id, view.variants[0].id, image_style="watercolor")
    )
    assert restyled.variant.image_style == "watercolor"


async def test_story_scoped_looks_show_only_with_their_story(app: App) -> None:
    view = await saved_actor(app)
    actor_id, base = view.actor.id, view.variants[0]
    scoped = await app.branch_variant(
        BranchVariantCommand(
            P, actor_id, base.id, trait_changes=TraitChanges(outfit="school uniform"), story="s1"
        )
    )
    assert scoped.variant.story == "s1"
    assert [v.id for v in (await app.get_actor(P, actor_id)).variants] == [base.id]
    assert [v.id for v in (await app.get_actor(P, actor_id, "s1")).variants] == [base.id, scoped.variant.id]
    assert [v.id for v in (await app.get_actor(P, actor_id, "s2")).variants] == [base.id]

    with pytest.raises(PreconditionFailed) as elsewhere:
        await app.branch_variant(
            BranchVariantCommand(
                P, actor_id, scoped.variant.id, trait_changes=TraitChanges(mood="sad"), story="s2"
            )
        )
    assert elsewhere.value.reason == "PARENT_IN_OTHER_STORY"
    with pytest.raises(PreconditionFailed):
        await app.branch_variant(
            BranchVariantCommand(P, actor_id, scoped.variant.id, trait_changes=TraitChanges(mood="sad"))
        )


async def test_the_default_moves_and_cannot_be_deleted(app: App) -> None:
    view = await saved_actor(app)
    actor_id, base = view.actor.id, view.variants[0]
    child = (
        await app.branch_variant(
            BranchVariantCommand(P, actor_id, base.id, trait_changes=TraitChanges(mood="calm"))
        )
    ).variant
    await app.update_variant(P, actor_id, child.id, VariantPatch(is_default=True))
    looks = {v.id: v.is_default for v in (await app.get_actor(P, actor_id)).variants}
    assert looks == {base.id: False, child.id: True}

    with pytest.raises(PreconditionFailed) as error:
        await app.delete_variant(P, actor_id, child.id)
    assert error.value.reason == "DEFAULT_VARIANT"
    await app.delete_variant(P, actor_id, base.id)
    (left,) = (await app.get_actor(P, actor_id)).variants
    assert (left.id, left.parent_id, left.is_default) == (child.id, None, True)


async def test_unsetting_the_default_is_refused(app: App) -> None:
    view = await saved_actor(app)
    with pytest.raises(InvalidInput) as error:
        await app.update_variant(P, view.actor.id, view.variants[0].id, VariantPatch(is_default=False))
    assert violated_fields(error.value) == {"variant.is_default"}


async def test_casting_keeps_one_active_look_per_actor_and_story(app: App) -> None:
    mina, jun = await saved_actor(app, "Mina"), await saved_actor(app, "Jun")
    base = mina.variants[0]
    child = (
        await app.branch_variant(
            BranchVariantCommand(
                P, mina.actor.id, base.id, trait_changes=TraitChanges(outfit="armor"), story="s1"
            )
        )
    ).variant
    await app.cast_variant(P, mina.actor.id, base.id, "s1")
    await app.cast_variant(P, mina.actor.id, child.id, "s1")
    await app.cast_variant(P, jun.actor.id, jun.variants[0].id, "s1")
    cast = await app.list_story_cast(P, "s1", 0, "")
    assert {(m.actor.id, m.variant.id) for m in cast.members} == {
        (mina.actor.id, child.id),
        (jun.actor.id, jun.variants[0].id),
    }
    assert (await app.list_story_cast(P, "s2", 0, "")).members == []
    with pytest.raises(PreconditionFailed) as error:
        await app.cast_variant(P, mina.actor.id, child.id, "s2")
    assert error.value.reason == "VARIANT_IN_OTHER_STORY"


async def test_listing_pages_newest_first_and_filters(app: App) -> None:
    made = [(await saved_actor(app, f"Actor {i}")).actor.id for i in range(5)]
    first = await app.list_actors(P, 2, "", "")
    second = await app.list_actors(P, 2, first.next_page_token, "")
    third = await app.list_actors(P, 2, second.next_page_token, "")
    seen = [v.actor.id for page in (first, second, third) for v in page.actors]
    assert seen == list(reversed(made)) and third.next_page_token == ""
    with pytest.raises(InvalidInput):
        await app.list_actors(P, 2, first.next_page_token, 'display_name="Actor*"')
    with pytest.raises(InvalidInput):
        await app.list_actors(P, 2, "not-a-token", "")
    assert len((await app.list_actors(P, 0, "", 'display_name="Actor 3"')).actors) == 1
    await app.update_actor(P, made[0], ActorPatch(approved=False))
    assert [v.actor.id for v in (await app.list_actors(P, 0, "", "approved=false")).actors] == [made[0]]
    assert (await app.list_actors("other", 0, "", "")).actors == []


async def test_update_actor_validates_and_changes_only_named_fields(app: App) -> None:
    view = await saved_actor(app)
    updated = await app.update_actor(
        P, view.actor.id, ActorPatch(display_name="Mina Park", default_image_style="anime")
    )
    assert (updated.actor.display_name, updated.actor.default_image_style) == ("Mina Park", "anime")
    assert updated.actor.default_story_style == "romance"
    with pytest.raises(InvalidInput) as error:
        await app.update_actor(
            P, view.actor.id, ActorPatch(display_name="x" * 129, default_story_style="opera", description="")
        )
    assert violated_fields(error.value) == {"actor.display_name", "actor.default_story_style"}


@pytest.mark.parametrize("hidden", sorted(INVISIBLE_CHARACTERS), ids=lambda c: f"U+{ord(c):04X}")
async def test_bidi_and_zero_width_characters_are_refused_in_names_descriptions_and_traits(
    app: App, hidden: str
) -> None:
    view = await saved_actor(app)
    with pytest.raises(InvalidInput) as error:
        await app.update_actor(
            P, view.actor.id, ActorPatch(display_name=f"Mina{hidden}gnp.exe", description=f"a{hidden}b")
        )
    assert violated_fields(error.value) == {"actor.display_name", "actor.description"}
    with pytest.raises(InvalidInput) as error:
        await app.generate_sheet(sheet_command(traits=Traits(hair_traits=f"short{hidden} bob")))
    assert violated_fields(error.value) == {"traits.hair_traits"}
    assert "zero-width" in error.value.violations[0].description
    # Letters from right-to-left scripts are text, not controls.
    hebrew = await app.update_actor(P, view.actor.id, ActorPatch(display_name="מינה", description=""))
    assert hebrew.actor.display_name == "מינה"


async def test_delete_actor_removes_it(app: App) -> None:
    view = await saved_actor(app)
    await app.delete_actor(P, view.actor.id)
    with pytest.raises(NotFound):
        await app.get_actor(P, view.actor.id)
    with pytest.raises(NotFound):
        await app.delete_actor(P, view.actor.id)


async def test_bad_input_names_every_field(app: App) -> None:
    with pytest.raises(InvalidInput) as error:
        await app.generate_sheet(
            sheet_command(
                story_style="", image_style="oil", traits=Traits(mood="m" * 501), request_id="no spaces"
            )
        )
    assert violated_fields(error.value) == {"story_style", "image_style", "traits.mood", "request_id"}
    assert app.generator.calls == []


@pytest.mark.parametrize(
    "failure", [UpstreamBusy(3.0), UpstreamUnavailable("MODEL_UNAVAILABLE")], ids=["busy", "unavailable"]
)
async def test_a_failed_generation_stores_nothing(app: App, failure: Exception) -> None:
    app.generator.failures.append(failure)
    with pytest.raises(type(failure)):
        await app.generate_sheet(sheet_command())
    assert app.tables.sheets == {} and app.tables.images == {} and app.blobs.blobs == {}


async def test_an_image_of_the_wrong_shape_is_drawn_again_then_refused(app: App) -> None:
    app.generator.width = app.generator.height  # square, not 9:16
    with pytest.raises(UpstreamUnavailable) as error:
        await app.generate_sheet(sheet_command())
    assert error.value.reason == "INVALID_MODEL_IMAGE"
    assert len(app.generator.calls) == 2
    assert app.tables.sheets == {} and app.blobs.blobs == {}


async def test_a_retried_request_id_returns_the_first_result_with_one_model_call(app: App) -> None:
    command = sheet_command(request_id="9b0c5c43-req")
    first, second = await asyncio.gather(app.generate_sheet(command), app.generate_sheet(command))
    assert first.id == second.id
    assert len(app.generator.calls) == 1
    assert (await app.generate_sheet(command)).id == first.id
    with pytest.raises(InvalidInput) as error:
        await app.generate_sheet(sheet_command(request_id="9b0c5c43-req", image_style="anime"))
    assert violated_fields(error.value) == {"request_id"}

    save = SaveActorCommand(P, first.id, "Mina", request_id="save-1")
    assert (await app.save_actor(save)).actor.id == (await app.save_actor(save)).actor.id


async def test_import_makes_an_imported_default_look(app: App) -> None:
    picture = png(30, 40)
    view = await app.import_actor(ImportActorCommand(P, picture, "Hana", mime_type="image/png"))
    assert not view.actor.approved
    (look,) = view.variants
    assert (look.kind, look.display_name, look.is_default) == (VariantKind.IMPORTED, "Imported", True)
    assert look.provenance is None
    assert app.blobs.blobs[look.reference_image.blob_key] == picture
    assert view.actor.default_story_style == "slice-of-life"


@pytest.mark.parametrize(
    ("content", "mime", "field"),
    [
        (b"", "", "image_content"),
        (b"GIF89a not a png", "", "image_content"),
        (png(30, 40), "image/gif", "mime_type"),
        (png(30, 40), "image/jpeg", "mime_type"),
        (b"x" * 10_001, "", "image_content"),
    ],
    ids=["empty", "not-an-image", "unsupported-mime", "mime-mismatch", "too-large"],
)
async def test_import_refuses_bad_pictures(app: App, content: bytes, mime: str, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        await app.import_actor(ImportActorCommand(P, content, "Bad", mime_type=mime))
    assert violated_fields(error.value) == {field}
    assert app.tables.actors == {} and app.blobs.blobs == {}


async def test_read_image_streams_the_stored_bytes(app: App) -> None:
    sheet = await app.generate_sheet(sheet_command())
    stream = await app.read_image(P, sheet.image.id)
    data = b"".join([chunk async for chunk in stream.chunks])
    assert data == app.blobs.blobs[sheet.image.sha256]
    with pytest.raises(NotFound):
        await app.read_image("other", sheet.image.id)
