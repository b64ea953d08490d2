"""Integration fixtures: domain objects built directly, and stored through the real adapters."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from casting.adapters.sql.unit_of_work import SqlUnitOfWork
from casting.domain.model import Actor, Variant, VariantKind
from casting.domain.values import AgeRange, Gender, Image, Provenance, TraitChanges, Traits

PROJECT = "studio-1"
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Library:
    """Builds actors, looks and images with distinct, increasing times, and stores them."""

    def __init__(self, uow_factory: Callable[[], SqlUnitOfWork]) -> None:
        self.uow = uow_factory
        self._now = START

    def tick(self) -> datetime:
        self._now += timedelta(seconds=1, microseconds=250)
        return self._now

    def image(self, project: str = PROJECT) -> Image:
        image_id = new_id()
        return Image(
            id=image_id,
            project=project,
            blob_key=uuid.uuid4().hex * 2,
            mime_type="image/png",
            width=576,
            height=1024,
            size_bytes=123_456,
            sha256=uuid.uuid4().hex * 2,
            create_time=self.tick(),
        )

    def actor(
        self,
        display_name: str = "Mina",
        *,
        project: str = PROJECT,
        approved: bool = False,
        looks: int = 1,
        create_time: datetime | None = None,
    ) -> Actor:
        """An actor with a BASE default look and `looks - 1` DERIVED looks branched from it."""
        created = create_time or self.tick()
        traits = Traits(
            gender=Gender.FEMALE,
            age_range=AgeRange.YOUNG_ADULT,
            face_traits="round face, freckles",
            hair_traits="black bob",
            outfit="yellow raincoat",
            mood="curious",
        )
        actor = Actor(
            id=new_id(),
            project=project,
            display_name=display_name,
            description="the lead",
            traits=traits,
            default_story_style="slice-of-life",
            default_image_style="webtoon",
            approved=approved,
            create_time=created,
            update_time=created,
        )
        sheet = self.image(project)
        base = self.variant(actor, kind=VariantKind.BASE, reference=sheet, images=[sheet])
        base.is_default = True
        for n in range(1, looks):
            self.variant(actor, parent=base, display_name=f"Look {n}")
        return actor

    def variant(
        self,
        actor: Actor,
        *,
        kind: VariantKind = VariantKind.DERIVED,
        parent: Variant | None = None,
        story: str | None = None,
        display_name: str = "Default",
        changes: TraitChanges | None = None,
        reference: Image | None = None,
        images: list[Image] | None = None,
    ) -> Variant:
        """A new look, added to `actor`: generated from its parent's sheet unless IMPORTED."""
        created = self.tick()
        changes = changes or TraitChanges(hair_traits="red curls")
        drawn = images if images is not None else [self.image(actor.project)]
        anchor = reference or (parent.images[0] if parent and parent.images else None)
        variant = Variant(
            id=new_id(),
            actor_id=actor.id,
            kind=kind,
            display_name=display_name,
            story=story,
            story_style=actor.default_story_style,
            image_style=actor.default_image_style,
            traits=(parent.traits if parent else actor.traits).apply(changes),
            trait_changes=changes if parent else TraitChanges(),
            parent_id=parent.id if parent else None,
            reference_image=anchor,
            images=drawn,
            is_default=False,
            provenance=None
            if kind is VariantKind.IMPORTED
            else Provenance(
                generator="offline",
                model="procedural-v1",
                prompt_version="variant/3",
                prompt_sha256="ab" * 32,
                reference_image_ids=(anchor.id,) if anchor else (),
                duration_seconds=1.25,
            ),
            create_time=created,
            update_time=created,
        )
        actor.add_variant(variant)
        return variant

    async def store(self, *actors: Actor) -> None:
        """Adds the actors' images, then the actors, in one unit of work, as the use-cases do."""
        async with self.uow() as uow:
            for actor in actors:
                for image in images_of(actor):
                    await uow.images.add(image)
                await uow.actors.add(actor)
            await uow.commit()

    async def load(self, actor: Actor) -> Actor | None:
        async with self.uow() as uow:
            return await uow.actors.get(actor.project, actor.id)


def images_of(actor: Actor) -> list[Image]:
    """Every image the actor's looks point at, once each, in first-seen order."""
    seen: dict[str, Image] = {}
    for variant in actor.variants:
        for image in [*([variant.reference_image] if variant.reference_image else []), *variant.images]:
            seen.setdefault(image.id, image)
    return list(seen.values())


@pytest.fixture
def library(uow_factory: Callable[[], SqlUnitOfWork]) -> Library:
    return Library(uow_factory)
