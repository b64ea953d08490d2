"""The actor repository on real SQLite and PostgreSQL databases, through the migrations."""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.expression import ColumnElement

from casting.adapters.sql.models import (
    Base,
    CastRow,
    ImageRow,
    ReferenceImageRow,
    VariantImageRow,
    VariantRow,
)
from casting.domain.errors import Conflict
from casting.domain.model import Actor, VariantKind
from casting.domain.values import Gender, TraitChanges
from tests.integration.conftest import PROJECT, Library, images_of, new_id


def full_actor(library: Library) -> Actor:
    """An actor using every part of the aggregate: kinds, lineage, stories, casts, changes."""
    actor = library.actor("Mina", looks=2)
    base = actor.default_variant
    library.variant(
        actor,
        parent=base,
        story="story-7",
        display_name="Rainy day",
        # Empty is a change ("no mood"), distinct from an unset field (keep the mood).
        changes=TraitChanges(gender=Gender.NONBINARY, mood="", outfit="wet raincoat"),
        images=[library.image(), library.image(), library.image()],
    )
    library.variant(actor, kind=VariantKind.IMPORTED, display_name="Fan art", images=[])
    actor.casts = {"story-7": actor.variants[2].id, "story-8": base.id}
    return actor


async def count(engine: AsyncEngine, table: type[Base], *where: ColumnElement[bool]) -> int:
    async with engine.connect() as connection:
        query = select(func.count()).select_from(table).where(*where)
        return int((await connection.execute(query)).scalar_one())


async def test_the_whole_aggregate_round_trips(library: Library) -> None:
    actor = full_actor(library)
    await library.store(actor)

    loaded = await library.load(actor)

    assert loaded == actor
    assert loaded is not None
    assert loaded.variants[2].trait_changes == TraitChanges(
        gender=Gender.NONBINARY, mood="", outfit="wet raincoat"
    )
    assert [image.id for image in loaded.variants[2].images] == [
        image.id for image in actor.variants[2].images
    ]
    assert loaded.variants[3].provenance is None
    assert all(t.tzinfo is UTC for t in (loaded.create_time, loaded.variants[0].update_time))


async def test_times_in_any_zone_come_back_as_the_same_instant_in_utc(library: Library) -> None:
    seoul = timezone(timedelta(hours=9))
    actor = library.actor(create_time=library.tick().astimezone(seoul))
    await library.store(actor)

    loaded = await library.load(actor)

    assert loaded is not None
    assert loaded.create_time == actor.create_time
    assert loaded.create_time.tzinfo is UTC


async def test_another_projects_actor_is_not_found(library: Library) -> None:
    actor = library.actor()
    await library.store(actor)

    async with library.uow() as uow:
        assert await uow.actors.get("another-project", actor.id) is None


async def test_save_syncs_fields_new_and_changed_looks_and_casts(library: Library) -> None:
    actor = full_actor(library)
    await library.store(actor)

    async with library.uow() as uow:
        loaded = await uow.actors.get(PROJECT, actor.id)
        assert loaded is not None
        loaded.display_name = "Mina Park"
        loaded.approved = True
        loaded.variants[1].display_name = "Renamed"
        loaded.variants[1].images.append(extra := library.image())
        sheet = library.image()
        branch = library.variant(loaded, parent=loaded.variants[1], images=[sheet])
        loaded.cast(branch.id, "story-9", library.tick())
        loaded.cast(loaded.variants[0].id, "story-7", library.tick())
        for image in (extra, sheet):
            await uow.images.add(image)
        await uow.actors.save(loaded)
        await uow.commit()

    assert await library.load(actor) == loaded


async def test_moving_the_default_between_looks(library: Library, engine: AsyncEngine) -> None:
    actor = library.actor(looks=3)
    await library.store(actor)

    for target in (actor.variants[2], actor.variants[1], actor.variants[0]):
        async with library.uow() as uow:
            loaded = await uow.actors.get(PROJECT, actor.id, for_update=True)
            assert loaded is not None
            loaded.set_default(target.id, library.tick())
            await uow.actors.save(loaded)
            await uow.commit()

        reloaded = await library.load(actor)
        assert reloaded is not None
        assert reloaded.default_variant.id == target.id
        assert await count(engine, VariantRow, VariantRow.is_default.is_(True)) == 1


async def test_deleting_a_look_orphans_its_children_and_ends_its_casts(
    library: Library, engine: AsyncEngine
) -> None:
    actor = library.actor(looks=2)
    doomed = actor.variants[1]
    child = library.variant(actor, parent=doomed, display_name="Child")
    actor.casts = {"story-1": doomed.id, "story-2": child.id}
    await library.store(actor)

    async with library.uow() as uow:
        loaded = await uow.actors.get(PROJECT, actor.id)
        assert loaded is not None
        loaded.remove_variant(doomed.id, library.tick())
        await uow.actors.save(loaded)
        await uow.commit()

    reloaded = await library.load(actor)
    assert reloaded is not None
    assert [v.id for v in reloaded.variants] == [actor.variants[0].id, child.id]
    assert reloaded.variant(child.id).parent_id is None
    assert reloaded.casts == {"story-2": child.id}
    assert await count(engine, VariantImageRow, VariantImageRow.variant_id == doomed.id) == 0
    assert await count(engine, ReferenceImageRow, ReferenceImageRow.variant_id == doomed.id) == 0
    # Image rows outlive the look: their blobs are collected separately.
    assert await count(engine, ImageRow) == len(images_of(actor))


async def test_deleting_an_actor_removes_its_looks_and_casts_but_not_images(
    library: Library, engine: AsyncEngine
) -> None:
    actor, survivor = full_actor(library), library.actor("Other")
    await library.store(actor, survivor)

    async with library.uow() as uow:
        loaded = await uow.actors.get(PROJECT, actor.id)
        assert loaded is not None
        await uow.actors.delete(loaded)
        await uow.commit()

    assert await library.load(actor) is None
    assert await library.load(survivor) == survivor
    for table in (VariantRow, VariantImageRow, ReferenceImageRow):
        assert await count(engine, table) == 1, table
    assert await count(engine, CastRow) == 0
    assert await count(engine, ImageRow) == len(images_of(actor)) + 1


async def test_a_save_from_a_stale_read_is_a_conflict(library: Library) -> None:
    actor = library.actor(looks=2)
    await library.store(actor)

    with pytest.raises(Conflict) as raised:
        async with library.uow() as late, library.uow() as early:
            stale = await late.actors.get(PROJECT, actor.id)
            fresh = await early.actors.get(PROJECT, actor.id)
            assert stale is not None and fresh is not None
            fresh.display_name = "First"
            await early.actors.save(fresh)
            await early.commit()

            stale.set_default(stale.variants[1].id, library.tick())
            await late.actors.save(stale)
            await late.commit()

    assert "retry" in raised.value.message and "UPDATE" not in raised.value.message.upper()
    reloaded = await library.load(actor)
    assert reloaded is not None
    assert reloaded.display_name == "First"
    assert reloaded.default_variant.id == actor.variants[0].id


async def test_a_delete_from_a_stale_read_is_a_conflict(library: Library) -> None:
    actor = library.actor()
    await library.store(actor)

    with pytest.raises(Conflict):
        async with library.uow() as late, library.uow() as early:
            stale = await late.actors.get(PROJECT, actor.id)
            fresh = await early.actors.get(PROJECT, actor.id)
            assert stale is not None and fresh is not None
            fresh.approved = True
            await early.actors.save(fresh)
            await early.commit()

            await late.actors.delete(stale)
            await late.commit()

    assert await library.load(actor) is not None


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_concurrent_default_moves_serialize_on_the_actor_lock(library: Library) -> None:
    actor = library.actor(looks=3)
    await library.store(actor)
    first_locked = asyncio.Event()

    async def update_variant(target: int, *, first: bool) -> None:
        if not first:
            await first_locked.wait()  # so that this one really waits on the lock
        async with library.uow() as uow:
            loaded = await uow.actors.get(PROJECT, actor.id, for_update=True)
            assert loaded is not None
            if first:
                first_locked.set()
                await asyncio.sleep(0.2)
            loaded.set_default(loaded.variants[target].id, library.tick())
            await uow.actors.save(loaded)
            await uow.commit()

    await asyncio.gather(update_variant(1, first=True), update_variant(2, first=False))

    reloaded = await library.load(actor)
    assert reloaded is not None
    assert [v.is_default for v in reloaded.variants] == [False, False, True]


async def test_the_database_rejects_a_second_default(library: Library, engine: AsyncEngine) -> None:
    actor = library.actor()
    await library.store(actor)
    base = actor.variants[0]

    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(
                insert(VariantRow).values(
                    id=new_id(),
                    character_id=actor.id,
                    kind="derived",
                    display_name="Second default",
                    story_style=base.story_style,
                    image_style=base.image_style,
                    traits={},
                    trait_changes={},
                    is_default=True,
                    create_time=library.tick(),
                    update_time=library.tick(),
                )
            )


async def test_the_database_enforces_foreign_keys(library: Library, engine: AsyncEngine) -> None:
    actor = library.actor()
    await library.store(actor)

    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(
                insert(VariantImageRow).values(variant_id=actor.variants[0].id, position=1, image_id=new_id())
            )
