"""The collector's queries on real databases: set-based, and never removing what is in use."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from casting.domain.model import Sheet
from casting.domain.ports import IdempotencyRecord, Thumbnail
from casting.domain.values import Image
from tests.integration.conftest import PROJECT, Library, new_id
from tests.integration.test_sql_records import a_sheet
from tests.support.statements import counting


def thumbnail_of(library: Library, image: Image) -> Thumbnail:
    return Thumbnail(image.sha256, 240, library.image().blob_key, "image/webp", 427, 9_000)


async def store_sheets(library: Library, *sheets: Sheet) -> None:
    async with library.uow() as uow:
        for sheet in sheets:
            await uow.images.add(sheet.image)
            await uow.sheets.add(sheet)
        await uow.commit()


async def test_only_unsaved_expired_sheets_are_deleted_and_their_images_with_them(library: Library) -> None:
    expired, live, saved = a_sheet(library), a_sheet(library), a_sheet(library)
    now = expired.expire_time
    live = replace(live, expire_time=now + timedelta(seconds=1))
    actor = library.actor()
    saved = replace(saved, expire_time=now - timedelta(hours=1), actor_id=actor.id)
    await library.store(actor)
    await store_sheets(library, expired, live, saved)

    async with library.uow() as uow:
        assert await uow.sheets.delete_expired(now) == 1
        assert await uow.images.delete_unreferenced() == 1
        await uow.commit()

    async with library.uow() as uow:
        assert await uow.sheets.get(PROJECT, expired.id) is None
        assert await uow.images.get(PROJECT, expired.image.id) is None
        for kept in (live, saved):
            assert await uow.sheets.get(PROJECT, kept.id) == kept
            assert await uow.images.get(PROJECT, kept.image.id) == kept.image


async def test_images_of_looks_stay_and_those_of_deleted_looks_go(library: Library) -> None:
    kept, doomed = library.actor("Kept", looks=2), library.actor("Doomed", looks=2)
    middle = kept.variants[1]
    tip = library.variant(kept, parent=middle, display_name="Tip")  # drawn from middle's sheet
    orphan = library.image()
    await library.store(kept, doomed)
    async with library.uow() as uow:
        # Middle goes; its sheet stays as the anchor tip was drawn from.
        loaded = await uow.actors.get(PROJECT, kept.id, for_update=True)
        assert loaded is not None
        loaded.remove_variant(middle.id, library.tick())
        await uow.actors.save(loaded)
        await uow.commit()
    async with library.uow() as uow:
        await uow.images.add(orphan)
        for image in (kept.variants[0].images[0], doomed.variants[0].images[0]):
            await uow.thumbnails.save(thumbnail_of(library, image))
        await uow.commit()
    async with library.uow() as uow:
        loaded = await uow.actors.get(PROJECT, doomed.id, for_update=True)
        assert loaded is not None
        await uow.actors.delete(loaded)
        await uow.commit()

    async with library.uow() as uow:
        # The orphan, and the doomed actor's two images (its base sheet anchors its other look).
        assert await uow.images.delete_unreferenced() == 3
        await uow.commit()

    async with library.uow() as uow:
        assert await uow.images.get(PROJECT, orphan.id) is None
        for look in doomed.variants:
            assert await uow.images.get(PROJECT, look.images[0].id) is None
        for look in (kept.variants[0], tip):
            assert look.reference_image is not None
            for image in (*look.images, look.reference_image):
                assert await uow.images.get(PROJECT, image.id) == image
        # Thumbnails go with the last image of their content, not before.
        assert await uow.thumbnails.get(kept.variants[0].images[0].sha256, 240) is not None
        assert await uow.thumbnails.get(doomed.variants[0].images[0].sha256, 240) is None


async def test_blob_keys_are_referenced_by_image_rows_and_thumbnail_records(library: Library) -> None:
    image = library.image()
    thumbnail = thumbnail_of(library, image)
    async with library.uow() as uow:
        await uow.images.add(image)
        await uow.thumbnails.save(thumbnail)
        await uow.commit()

    unknown = library.image().blob_key
    async with library.uow() as uow:
        asked = {image.blob_key, thumbnail.blob_key, unknown}
        assert await uow.images.referenced_blob_keys(asked) == {image.blob_key, thumbnail.blob_key}
        assert await uow.images.referenced_blob_keys(set()) == set()


async def test_expired_request_ids_go_and_a_key_can_be_replaced_in_one_transaction(library: Library) -> None:
    old = IdempotencyRecord(PROJECT, "SaveActor", "req-1", "a" * 64, new_id(), library.tick())
    other = IdempotencyRecord(PROJECT, "SaveActor", "req-2", "b" * 64, new_id(), library.tick())
    young = IdempotencyRecord(PROJECT, "SaveActor", "req-3", "c" * 64, new_id(), library.tick())
    async with library.uow() as uow:
        for record in (old, other, young):
            await uow.idempotency.add(record)
        await uow.commit()

    # As a create after the TTL does: read the expired record, drop it, add the new one.
    renewed = replace(old, fingerprint="d" * 64, resource_id=new_id(), create_time=library.tick())
    async with library.uow() as uow:
        assert await uow.idempotency.get(PROJECT, "SaveActor", "req-1") == old
        key = (PROJECT, "SaveActor", "req-1")
        assert await uow.idempotency.delete_expired(other.create_time, key) == 1
        await uow.idempotency.add(renewed)
        await uow.commit()

    async with library.uow() as uow:
        assert await uow.idempotency.get(PROJECT, "SaveActor", "req-1") == renewed
        assert await uow.idempotency.delete_expired(other.create_time) == 1  # req-2, not req-3
        await uow.commit()

    async with library.uow() as uow:
        assert await uow.idempotency.get(PROJECT, "SaveActor", "req-2") is None
        assert await uow.idempotency.get(PROJECT, "SaveActor", "req-3") == young


async def test_a_collection_runs_the_same_few_statements_for_1_or_40_of_each(
    library: Library, engine: AsyncEngine
) -> None:
    async def statements_to_collect(garbage: int) -> int:
        sheets = [a_sheet(library) for _ in range(garbage)]
        await store_sheets(library, *sheets)
        async with library.uow() as uow:
            for sheet in sheets:
                await uow.idempotency.add(
                    IdempotencyRecord(
                        PROJECT, "GenerateSheet", new_id(), "e" * 64, sheet.id, sheet.create_time
                    )
                )
            await uow.commit()
        now = max(s.expire_time for s in sheets)
        async with library.uow() as uow:
            with counting(engine) as statements:
                assert await uow.sheets.delete_expired(now) == garbage
                assert await uow.idempotency.delete_expired(now) == garbage
                assert await uow.images.delete_unreferenced() == garbage
                assert await uow.images.referenced_blob_keys({s.image.blob_key for s in sheets}) == set()
            await uow.commit()
        return len(statements)

    assert await statements_to_collect(1) == await statements_to_collect(40)
