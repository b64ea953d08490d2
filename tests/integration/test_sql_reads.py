"""Reads straight from the tables (adapters/sql/actor_reads.py) give the very actors the ORM
aggregate load gives: every column, look, image, reference and cast, in the same order."""

from __future__ import annotations

from casting.domain.model import Actor, VariantKind
from casting.domain.pagination import PageRequest
from casting.domain.ports import ActorFilter
from tests.integration.conftest import PROJECT, Library


async def _rich_library(library: Library) -> list[Actor]:
    """Actors with everything an aggregate can hold: derived and story-scoped looks, several
    images, an imported look without provenance or reference, casts in two stories; and one
    actor with a single look, and a project besides."""
    full = library.actor("Full", looks=3, approved=True)
    story_look = library.variant(full, parent=full.variants[1], story="story-1", display_name="Rain")
    story_look.images.append(library.image())
    imported = library.variant(full, kind=VariantKind.IMPORTED, display_name="Photo")
    imported.reference_image = None
    full.cast(story_look.id, "story-1", library.tick())
    full.cast(full.variants[0].id, "story-2", library.tick())
    plain = library.actor("Plain")
    plain.cast(plain.variants[0].id, "story-1", library.tick())
    elsewhere = library.actor("Elsewhere", project="other")
    await library.store(full, plain, elsewhere, *(library.actor(f"Extra {n}", looks=2) for n in range(3)))
    return [full, plain, elsewhere]


async def _aggregate(library: Library, project: str, actor_id: str) -> Actor | None:
    """The actor as the ORM loads it, for a change."""
    async with library.uow() as uow:
        return await uow.actors.get(project, actor_id)


async def test_get_reads_what_the_aggregate_load_reads(library: Library) -> None:
    actors = await _rich_library(library)
    for actor in actors:
        async with library.uow() as uow:
            read = await uow.actors.read(actor.project, actor.id)
        assert read == await _aggregate(library, actor.project, actor.id) == actor
    elsewhere = actors[-1]
    async with library.uow() as uow:
        assert await uow.actors.read(PROJECT, elsewhere.id) is None  # another project's actor


async def test_pages_read_what_the_aggregate_load_reads(library: Library) -> None:
    await _rich_library(library)
    async with library.uow() as uow:
        listed = await uow.actors.list(PROJECT, ActorFilter(), PageRequest(50, None))
        approved = await uow.actors.list(PROJECT, ActorFilter(approved=True), PageRequest(50, None))
        cast = await uow.actors.list_cast(PROJECT, "story-1", PageRequest(50, None))
    assert [a.display_name for a in listed] == ["Extra 2", "Extra 1", "Extra 0", "Plain", "Full"]
    assert [a.display_name for a in approved] == ["Full"]
    assert [a.display_name for a in cast] == ["Plain", "Full"]
    for actor in [*listed, *cast]:
        assert actor == await _aggregate(library, PROJECT, actor.id)
