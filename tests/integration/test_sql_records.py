"""Sheets, images and idempotency keys on real databases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from casting.adapters.sql.mappers import verification_from_document
from casting.domain.errors import Conflict
from casting.domain.model import LookBase, Sheet
from casting.domain.ports import IdempotencyRecord
from casting.domain.values import (
    NOT_VERIFIED_BEFORE,
    Provenance,
    TraitChanges,
    Usage,
    Verification,
    VerificationCheck,
)
from tests.integration.conftest import PROJECT, Library, new_id


def a_sheet(library: Library) -> Sheet:
    actor_template = library.actor()
    created = library.tick()
    return Sheet(
        id=new_id(),
        project=PROJECT,
        story_style="romance",
        image_style="anime",
        traits=actor_template.traits,
        image=library.image(),
        provenance=Provenance(
            "gemini",
            "gemini-2.5-flash-image",
            "sheet/2",
            "cd" * 32,
            verification=Verification(
                passed=False,
                identity_score=0.62,
                checks=(VerificationCheck("no_text", False, "a caption under the insets"),),
                judge="gemini:gemini-2.5-flash",
                draws=3,
            ),
            usage=Usage(model_calls=6, input_tokens=5_210, output_tokens=3_870, cost_micros=118_400),
        ),
        create_time=created,
        expire_time=created + timedelta(hours=24),
    )


async def test_a_sheet_round_trips_and_is_saved_as_an_actor(library: Library) -> None:
    sheet = a_sheet(library)
    async with library.uow() as uow:
        await uow.images.add(sheet.image)
        await uow.sheets.add(sheet)
        await uow.commit()

    actor = library.actor()
    async with library.uow() as uow:
        loaded = await uow.sheets.get(PROJECT, sheet.id, for_update=True)
        assert loaded == sheet
        assert await uow.sheets.get("another-project", sheet.id) is None
        # As SaveActor does: the actor and the sheet's new state in one transaction.
        loaded.mark_saved(actor.id)
        for image in {i.id: i for v in actor.variants for i in v.images}.values():
            await uow.images.add(image)  # before the look that shows it, as the use-cases do
        await uow.actors.add(actor)
        await uow.sheets.save(loaded)
        await uow.commit()

    async with library.uow() as uow:
        saved = await uow.sheets.get(PROJECT, sheet.id)
        assert saved is not None and saved.actor_id == actor.id
        await uow.actors.delete(actor)
        await uow.commit()

    async with library.uow() as uow:
        # A saved sheet goes with its actor: it must not turn back into a preview.
        assert await uow.sheets.get(PROJECT, sheet.id) is None


async def test_a_derived_preview_keeps_the_look_it_was_drawn_from(library: Library) -> None:
    sheet = a_sheet(library)
    sheet.base = LookBase(new_id(), new_id(), TraitChanges(outfit="red winter coat", mood=""), "winter-arc")
    async with library.uow() as uow:
        await uow.images.add(sheet.image)
        await uow.sheets.add(sheet)
        await uow.commit()
    async with library.uow() as uow:
        loaded = await uow.sheets.get(PROJECT, sheet.id)
    assert loaded == sheet and loaded.base == sheet.base


def test_a_drawing_kept_before_judging_reads_as_not_verified() -> None:
    verification = verification_from_document(None)
    assert not verification.passed and not verification.judged
    assert verification.unverified_reason == NOT_VERIFIED_BEFORE


async def test_images_are_scoped_to_their_project(library: Library) -> None:
    image = library.image()
    async with library.uow() as uow:
        await uow.images.add(image)
        await uow.commit()

    async with library.uow() as uow:
        assert await uow.images.get(PROJECT, image.id) == image
        assert await uow.images.get("another-project", image.id) is None
        assert await uow.images.get(PROJECT, new_id()) is None


async def test_an_idempotency_key_is_recorded_once(library: Library) -> None:
    record = IdempotencyRecord(PROJECT, "SaveActor", "req-1", "f" * 64, new_id(), library.tick())
    async with library.uow() as uow:
        await uow.idempotency.add(record)
        await uow.commit()

    async with library.uow() as uow:
        assert await uow.idempotency.get(PROJECT, "SaveActor", "req-1") == record
        assert await uow.idempotency.get(PROJECT, "ImportActor", "req-1") is None
        assert await uow.idempotency.get("another-project", "SaveActor", "req-1") is None

    with pytest.raises(Conflict):
        async with library.uow() as uow:
            await uow.idempotency.add(
                IdempotencyRecord(PROJECT, "SaveActor", "req-1", "0" * 64, new_id(), library.tick())
            )
            await uow.commit()

    async with library.uow() as uow:
        assert await uow.idempotency.get(PROJECT, "SaveActor", "req-1") == record


async def test_leaving_without_commit_rolls_back(library: Library) -> None:
    actor = library.actor()
    async with library.uow() as uow:
        await uow.images.add(actor.variants[0].images[0])
        await uow.actors.add(actor)

    assert await library.load(actor) is None
