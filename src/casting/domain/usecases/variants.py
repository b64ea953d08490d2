"""Look use-cases: branch a new look reference-first; get, update and delete looks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from casting.domain import styles
from casting.domain.errors import FieldViolation, InvalidInput
from casting.domain.model import VariantKind, new_look
from casting.domain.ports import (
    ActorCache,
    Clock,
    GenerationKind,
    GenerationSpec,
    IdFactory,
    UnitOfWork,
)
from casting.domain.usecases.actors import load_actor, naming_violations, raise_if, read_actor
from casting.domain.usecases.idempotency import Idempotency, RequestKey, request_id_violations, request_key
from casting.domain.usecases.painting import SheetPainter
from casting.domain.usecases.views import VariantView
from casting.domain.values import MAX_NAME_CHARS, TraitChanges, text_violation


@dataclass(frozen=True, slots=True)
class BranchVariantCommand:
    project: str
    actor_id: str
    base_variant_id: str
    display_name: str = ""
    story_style: str = ""
    image_style: str = ""
    trait_changes: TraitChanges = TraitChanges()
    story: str | None = None
    request_id: str = ""
    image_size: str = ""  # "" (the model's default), "1K", "2K" or "4K"

    require_verified: bool = False


class BranchVariant:
    """Draws a new look from a base look: the base's sheet is sent first as the identity anchor
    (and the lineage root's sheet after it, so drift does not compound), and only the
    requested changes may differ."""

    operation = "BranchVariant"

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        painter: SheetPainter,
        idempotency: Idempotency,
        ids: IdFactory,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._painter = painter
        self._idempotency = idempotency
        self._ids = ids
        self._clock = clock

    async def __call__(self, command: BranchVariantCommand) -> VariantView:
        raise_if(
            text_violation("display_name", command.display_name, MAX_NAME_CHARS)
            + styles.style_violations(command.story_style or None, command.image_style or None)
            + command.trait_changes.violations("trait_changes")
            + request_id_violations(command.request_id)
        )
        key = request_key(self.operation, command)
        return await self._idempotency.create_once(
            self._uow,
            key,
            lambda uow, project, look_id: self._replay(uow, project, command.actor_id, look_id),
            lambda: self._branch(command, key),
        )

    async def _replay(self, uow: UnitOfWork, project: str, actor_id: str, look_id: str) -> VariantView:
        actor = await load_actor(uow, project, actor_id)
        return VariantView(actor, actor.variant(look_id))

    async def _branch(self, command: BranchVariantCommand, key: RequestKey) -> VariantView:
        project = command.project
        async with self._uow() as uow:
            actor = await load_actor(uow, project, command.actor_id)
        base = actor.variant(command.base_variant_id)
        actor.check_branch(base, command.story)
        story_style = command.story_style or base.story_style
        image_style = command.image_style or base.image_style
        if command.trait_changes.is_empty() and (story_style, image_style) == (
            base.story_style,
            base.image_style,
        ):
            raise InvalidInput.field("trait_changes", "name at least one change, or a different style")
        root = actor.lineage_root(base)
        anchors = [look.reference_image for look in (base, root) if look.reference_image is not None]
        picked_story_style, picked_image_style = styles.pick(story_style, image_style)
        spec = GenerationSpec(
            GenerationKind.VARIANT,
            traits=base.traits.apply(command.trait_changes),
            story_style=picked_story_style,
            image_style=picked_image_style,
            base_traits=base.traits,
            changes=command.trait_changes,
            image_size=command.image_size,
        )
        painting = await self._painter.paint(
            project, spec, list(dict.fromkeys(anchors)), require_verified=command.require_verified
        )
        async with self._uow() as uow:
            # Reloaded under lock: the actor may have changed while the model worked.
            actor = await load_actor(uow, project, command.actor_id, for_update=True)
            base = actor.variant(command.base_variant_id)
            look = new_look(
                variant_id=self._ids.new_id(),
                actor_id=actor.id,
                kind=VariantKind.DERIVED,
                display_name=command.display_name or f"Look {len(actor.variants) + 1}",
                story=command.story,
                story_style=story_style,
                image_style=image_style,
                traits=spec.traits,
                image=painting.image,
                provenance=painting.provenance,
                now=self._clock.now(),
                parent_id=base.id,
                trait_changes=command.trait_changes,
            )
            actor.add_variant(look)
            await uow.images.add(painting.image)
            await self._painter.settle(uow, painting)
            await uow.actors.save(actor)
            await self._idempotency.remember(uow, key, look.id)
            await uow.commit()
        return VariantView(actor, look)


class GetVariant:
    def __init__(self, uow: Callable[[], UnitOfWork], recent: ActorCache) -> None:
        self._uow = uow
        self._recent = recent

    async def __call__(self, project: str, actor_id: str, variant_id: str) -> VariantView:
        actor = await read_actor(self._uow, self._recent, project, actor_id)
        return VariantView(actor, actor.variant(variant_id))


@dataclass(frozen=True, slots=True)
class VariantPatch:
    """The fields UpdateVariant changes; None leaves a field alone."""

    display_name: str | None = None
    is_default: bool | None = None


class UpdateVariant:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(
        self, project: str, actor_id: str, variant_id: str, patch: VariantPatch
    ) -> VariantView:
        """Renames a look, or makes it the default (the old default stops being one)."""
        if patch == VariantPatch():
            raise InvalidInput.field("update_mask", "names no field to update")
        violations = naming_violations(patch.display_name, None, "variant.")
        if patch.is_default is False:
            violations.append(
                FieldViolation("variant.is_default", "can only be set to true: make another look the default")
            )
        raise_if(violations)
        async with self._uow() as uow:
            actor = await load_actor(uow, project, actor_id, for_update=True)
            now = self._clock.now()
            look = actor.variant(variant_id)
            if patch.display_name is not None:
                look.display_name = patch.display_name
                look.update_time = now
                actor.touch(now)
            if patch.is_default:
                actor.set_default(variant_id, now)
            await uow.actors.save(actor)
            await uow.commit()
        return VariantView(actor, look)


class DeleteVariant:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, project: str, actor_id: str, variant_id: str) -> None:
        """Deletes a look (not the default); looks branched from it keep their own sheets."""
        async with self._uow() as uow:
            actor = await load_actor(uow, project, actor_id, for_update=True)
            actor.remove_variant(variant_id, self._clock.now())
            await uow.actors.save(actor)
            await uow.commit()
