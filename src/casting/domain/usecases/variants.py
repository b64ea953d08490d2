"""Look use-cases: branch a new look reference-first; get, update and delete looks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from casting.domain import names, styles
from casting.domain.errors import FieldViolation, InvalidInput, PreconditionFailed
from casting.domain.model import Actor, LookBase, Variant, VariantKind, new_look
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
from casting.domain.usecases.painting import VERIFICATION_FAILED, SheetPainter
from casting.domain.usecases.sheets import live_sheet
from casting.domain.usecases.views import VariantView
from casting.domain.values import MAX_NAME_CHARS, Image, Provenance, TraitChanges, Traits, text_violation


@dataclass(frozen=True, slots=True)
class BranchVariantCommand:
    """A new look drawn from `base_variant_id`, or, with `sheet_id`, the derived preview the
    artist picked committed as the new look (no new drawing; it says what changed itself)."""

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
    sheet_id: str = ""


@dataclass(frozen=True, slots=True)
class LookPlan:
    """What drawing a new look from a base look takes: the spec, the references (the base's
    sheet first, the lineage root's after) and the styles by id."""

    spec: GenerationSpec
    references: list[Image]
    story_style: str
    image_style: str


def plan_look(
    actor: Actor,
    base_variant_id: str,
    *,
    story: str | None,
    story_style: str,
    image_style: str,
    trait_changes: TraitChanges,
    image_size: str = "",
) -> LookPlan:
    """How to draw a new look of `actor` from one of its looks; refuses a branch that changes
    nothing or crosses stories."""
    base = actor.variant(base_variant_id)
    actor.check_branch(base, story)
    story_style = story_style or base.story_style
    image_style = image_style or base.image_style
    if trait_changes.is_empty() and (story_style, image_style) == (base.story_style, base.image_style):
        raise InvalidInput.field("trait_changes", "name at least one change, or a different style")
    root = actor.lineage_root(base)
    anchors = [look.reference_image for look in (base, root) if look.reference_image is not None]
    picked_story_style, picked_image_style = styles.pick(story_style, image_style)
    spec = GenerationSpec(
        GenerationKind.VARIANT,
        traits=base.traits.apply(trait_changes),
        story_style=picked_story_style,
        image_style=picked_image_style,
        base_traits=base.traits,
        changes=trait_changes,
        image_size=image_size,
    )
    return LookPlan(spec, list(dict.fromkeys(anchors)), story_style, image_style)


class BranchVariant:
    """Draws a new look from a base look: the base's sheet is sent first as the identity anchor
    (and the lineage root's sheet after it, so drift does not compound), and only the
    requested changes may differ. With a sheet, commits a derived preview instead."""

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
        violations = (
            text_violation("display_name", command.display_name, MAX_NAME_CHARS)
            + styles.style_violations(command.story_style or None, command.image_style or None)
            + command.trait_changes.violations("trait_changes")
            + request_id_violations(command.request_id)
        )
        if command.sheet_id:
            violations += _drawn_already(command)
        raise_if(violations)
        key = request_key(self.operation, command)
        return await self._idempotency.create_once(
            self._uow,
            key,
            lambda uow, project, look_id: self._replay(uow, project, command.actor_id, look_id),
            lambda: self._commit_sheet(command, key) if command.sheet_id else self._branch(command, key),
        )

    async def _replay(self, uow: UnitOfWork, project: str, actor_id: str, look_id: str) -> VariantView:
        actor = await load_actor(uow, project, actor_id)
        return VariantView(actor, actor.variant(look_id))

    async def _branch(self, command: BranchVariantCommand, key: RequestKey) -> VariantView:
        project = command.project
        async with self._uow() as uow:
            actor = await load_actor(uow, project, command.actor_id)
        plan = plan_look(
            actor,
            command.base_variant_id,
            story=command.story,
            story_style=command.story_style,
            image_style=command.image_style,
            trait_changes=command.trait_changes,
            image_size=command.image_size,
        )
        painting = await self._painter.paint(
            project, plan.spec, plan.references, require_verified=command.require_verified
        )
        async with self._uow() as uow:
            # Reloaded under lock: the actor may have changed while the model worked.
            actor = await load_actor(uow, project, command.actor_id, for_update=True)
            look = self._add_look(
                actor,
                command,
                LookBase(actor.id, command.base_variant_id, command.trait_changes, command.story),
                plan.story_style,
                plan.image_style,
                plan.spec.traits,
                painting.image,
                painting.provenance,
            )
            await uow.images.add(painting.image)
            await uow.actors.save(actor)
            await self._idempotency.remember(uow, key, look.id)
            # Last: settling locks the project's month in the ledger until the commit.
            await self._painter.settle(uow, painting)
            await uow.commit()
        return VariantView(actor, look)

    async def _commit_sheet(self, command: BranchVariantCommand, key: RequestKey) -> VariantView:
        """The derived preview the artist picked becomes the look it was drawn as."""
        async with self._uow() as uow:
            sheet = await live_sheet(
                uow, command.project, command.sheet_id, self._clock.now(), for_update=True
            )
            base = sheet.derived_base()
            if (base.actor_id, base.variant_id) != (command.actor_id, command.base_variant_id):
                raise InvalidInput.field("sheet", "was drawn from another look than base_variant")
            verification = sheet.provenance.verification
            if command.require_verified and not verification.passed:
                raise PreconditionFailed(
                    VERIFICATION_FAILED,
                    f"sheet {names.sheet(sheet.project, sheet.id)} did not pass verification",
                )
            actor = await load_actor(uow, command.project, base.actor_id, for_update=True)
            look = self._add_look(
                actor,
                command,
                base,
                sheet.story_style,
                sheet.image_style,
                sheet.traits,
                sheet.image,
                sheet.provenance,
            )
            sheet.mark_saved(actor.id)
            await uow.actors.save(actor)
            await uow.sheets.save(sheet)
            await self._idempotency.remember(uow, key, look.id)
            await uow.commit()
        return VariantView(actor, look)

    def _add_look(
        self,
        actor: Actor,
        command: BranchVariantCommand,
        base: LookBase,
        story_style: str,
        image_style: str,
        traits: Traits,
        image: Image,
        provenance: Provenance,
    ) -> Variant:
        parent = actor.variant(base.variant_id)
        actor.check_branch(parent, base.story)
        look = new_look(
            variant_id=self._ids.new_id(),
            actor_id=actor.id,
            kind=VariantKind.DERIVED,
            display_name=command.display_name or f"Look {len(actor.variants) + 1}",
            story=base.story,
            story_style=story_style,
            image_style=image_style,
            traits=traits,
            image=image,
            provenance=provenance,
            now=self._clock.now(),
            parent_id=parent.id,
            trait_changes=base.trait_changes,
        )
        actor.add_variant(look)
        return look


def _drawn_already(command: BranchVariantCommand) -> list[FieldViolation]:
    """A picked preview was drawn with its changes, styles and story: none may be asked again."""
    asked = {
        "trait_changes": not command.trait_changes.is_empty(),
        "story": command.story is not None,
        "story_style": bool(command.story_style),
        "image_style": bool(command.image_style),
        "image_size": bool(command.image_size),
    }
    return [
        FieldViolation(name, "must be unset with sheet: the picked preview was drawn with its own")
        for name, given in asked.items()
        if given
    ]


class GetVariant:
    def __init__(self, uow: Callable[[], UnitOfWork], recent: ActorCache[Actor]) -> None:
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
