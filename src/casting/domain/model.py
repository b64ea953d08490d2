"""Entities: the Actor aggregate with its Variants (looks), and unsaved Sheets.

The aggregate's methods keep the invariants: exactly one default look per actor, the default
cannot be deleted, one active look per (actor, story), and a story-scoped look's parent is
global or in the same story.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from casting.domain import names
from casting.domain.errors import NotFound, PreconditionFailed
from casting.domain.values import NO_CHANGES, Image, Provenance, TraitChanges, Traits


class VariantKind(enum.Enum):
    BASE = "base"
    DERIVED = "derived"
    IMPORTED = "imported"


# An actor's first look is named as the seed names it: for where its picture came from.
FIRST_LOOK_NAMES = {VariantKind.BASE: "Default", VariantKind.IMPORTED: "Imported"}


@dataclass(frozen=True, slots=True)
class LookBase:
    """What a derived preview was drawn from: an actor's look, the changes asked of it, and
    the story the new look is for (None: a global look)."""

    actor_id: str
    variant_id: str
    trait_changes: TraitChanges
    story: str | None = None


@dataclass(slots=True)
class Sheet:
    """A generated preview, outside the library until it is saved: a first sheet becomes an
    actor (SaveActor); a derived preview, drawn from one of an actor's looks (`base`), becomes
    that actor's new look (BranchVariant with `sheet`)."""

    id: str
    project: str
    story_style: str
    image_style: str
    traits: Traits
    image: Image
    provenance: Provenance
    create_time: datetime
    expire_time: datetime
    actor_id: str | None = None
    base: LookBase | None = None

    def is_expired(self, now: datetime) -> bool:
        return self.actor_id is None and now >= self.expire_time

    def check_first_sheet(self) -> None:
        """Only a first sheet can become a new actor."""
        if self.base is not None:
            raise PreconditionFailed(
                "SHEET_IS_DERIVED",
                f"sheet {names.sheet(self.project, self.id)} is a new look of "
                f"{names.actor(self.project, self.base.actor_id)}: commit it with BranchVariant, "
                "not SaveActor",
            )

    def derived_base(self) -> LookBase:
        """The look a derived preview was drawn from; a first sheet has none."""
        if self.base is None:
            raise PreconditionFailed(
                "SHEET_NOT_DERIVED",
                f"sheet {names.sheet(self.project, self.id)} is a first sheet, drawn from no look: "
                "save it as a new actor with SaveActor",
            )
        return self.base

    def mark_saved(self, actor_id: str) -> None:
        if self.actor_id is not None:
            raise PreconditionFailed(
                "SHEET_ALREADY_SAVED",
                f"sheet {names.sheet(self.project, self.id)} was already saved as "
                f"{names.actor(self.project, self.actor_id)}",
            )
        self.actor_id = actor_id


@dataclass(slots=True)
class Variant:
    """One look of an actor."""

    id: str
    actor_id: str
    kind: VariantKind
    display_name: str
    story: str | None
    story_style: str
    image_style: str
    traits: Traits
    trait_changes: TraitChanges
    parent_id: str | None
    reference_image: Image | None
    images: list[Image]
    is_default: bool
    provenance: Provenance | None
    create_time: datetime
    update_time: datetime

    @property
    def is_global(self) -> bool:
        return self.story is None

    @property
    def failed_verification(self) -> bool:
        return self.provenance is not None and self.provenance.verification.failed


def new_look(
    *,
    variant_id: str,
    actor_id: str,
    kind: VariantKind,
    display_name: str,
    story: str | None,
    story_style: str,
    image_style: str,
    traits: Traits,
    image: Image,
    provenance: Provenance | None,
    now: datetime,
    parent_id: str | None = None,
    trait_changes: TraitChanges = NO_CHANGES,
) -> Variant:
    """A new look whose own image is also its identity reference for looks branched from it."""
    return Variant(
        id=variant_id,
        actor_id=actor_id,
        kind=kind,
        display_name=display_name,
        story=story,
        story_style=story_style,
        image_style=image_style,
        traits=traits,
        trait_changes=trait_changes,
        parent_id=parent_id,
        reference_image=image,
        images=[image],
        is_default=False,
        provenance=provenance,
        create_time=now,
        update_time=now,
    )


@dataclass(slots=True)
class Actor:
    """A character of the library and all its looks: the unit of consistency."""

    id: str
    project: str
    display_name: str
    description: str
    traits: Traits
    default_story_style: str
    default_image_style: str
    approved: bool
    create_time: datetime
    update_time: datetime
    variants: list[Variant] = field(default_factory=list)
    # story id -> the id of the actor's active look in that story
    casts: dict[str, str] = field(default_factory=dict)

    @classmethod
    def found(
        cls,
        *,
        actor_id: str,
        look_id: str,
        project: str,
        display_name: str,
        description: str,
        kind: VariantKind,
        traits: Traits,
        story_style: str,
        image_style: str,
        image: Image,
        provenance: Provenance | None,
        approved: bool,
        now: datetime,
    ) -> Actor:
        """A new actor with one global look of `kind` ("Default" when drawn, "Imported" when
        uploaded), drawn as `image`: its default."""
        look = new_look(
            variant_id=look_id,
            actor_id=actor_id,
            kind=kind,
            display_name=FIRST_LOOK_NAMES[kind],
            story=None,
            story_style=story_style,
            image_style=image_style,
            traits=traits,
            image=image,
            provenance=provenance,
            now=now,
        )
        look.is_default = True
        return cls(
            id=actor_id,
            project=project,
            display_name=display_name,
            description=description,
            traits=traits,
            default_story_style=story_style,
            default_image_style=image_style,
            approved=approved,
            create_time=now,
            update_time=now,
            variants=[look],
        )

    @property
    def name(self) -> str:
        return names.actor(self.project, self.id)

    def variant(self, variant_id: str) -> Variant:
        for variant in self.variants:
            if variant.id == variant_id:
                return variant
        raise NotFound("variant", names.variant(self.project, self.id, variant_id))

    @property
    def default_variant(self) -> Variant:
        return next(v for v in self.variants if v.is_default)

    def visible_variants(self, story: str | None) -> list[Variant]:
        """The global looks, then the looks of `story` when one is named."""
        global_looks = [v for v in self.variants if v.is_global]
        story_looks = [v for v in self.variants if story is not None and v.story == story]
        return global_looks + story_looks

    def cast_stories(self, variant_id: str) -> list[str]:
        return sorted(story for story, cast in self.casts.items() if cast == variant_id)

    def lineage_root(self, variant: Variant) -> Variant:
        """The look at the top of `variant`'s lineage (itself when it has no parent)."""
        seen = {variant.id}
        while variant.parent_id is not None and variant.parent_id not in seen:
            seen.add(variant.parent_id)
            variant = self.variant(variant.parent_id)
        return variant

    def check_branch(self, base: Variant, story: str | None) -> None:
        """A story-scoped look's parent must be global or in the same story; a global look's
        parent must be global, so no global lineage depends on one story."""
        if base.story is not None and base.story != story:
            raise PreconditionFailed(
                "PARENT_IN_OTHER_STORY",
                f"variant {names.variant(self.project, self.id, base.id)} belongs to story "
                f"{names.story(self.project, base.story)}; branch it within that story",
            )

    def add_variant(self, variant: Variant) -> None:
        self.variants.append(variant)
        self.touch(variant.create_time)

    def set_default(self, variant_id: str, now: datetime) -> Variant:
        chosen = self.variant(variant_id)
        if not chosen.is_global:
            raise PreconditionFailed(
                "STORY_VARIANT_CANNOT_BE_DEFAULT",
                "a story-scoped variant cannot be the actor's default; branch a global one",
            )
        for variant in self.variants:
            if variant.is_default != (variant is chosen):
                variant.is_default = variant is chosen
                variant.update_time = now
        self.touch(now)
        return chosen

    def remove_variant(self, variant_id: str, now: datetime) -> Variant:
        doomed = self.variant(variant_id)
        if doomed.is_default:
            raise PreconditionFailed(
                "DEFAULT_VARIANT",
                "the default variant cannot be deleted; make another variant the default first",
            )
        self.variants.remove(doomed)
        for variant in self.variants:
            if variant.parent_id == doomed.id:
                variant.parent_id = None  # lineage breaks; the child keeps its own sheet
        self.casts = {s: v for s, v in self.casts.items() if v != doomed.id}
        self.touch(now)
        return doomed

    def cast(self, variant_id: str, story: str, now: datetime) -> Variant:
        chosen = self.variant(variant_id)
        if chosen.story is not None and chosen.story != story:
            raise PreconditionFailed(
                "VARIANT_IN_OTHER_STORY",
                f"variant {names.variant(self.project, self.id, chosen.id)} belongs to story "
                f"{names.story(self.project, chosen.story)}",
            )
        self.casts[story] = chosen.id
        self.touch(now)
        return chosen

    def revise(
        self,
        now: datetime,
        *,
        display_name: str | None = None,
        description: str | None = None,
        traits: Traits | None = None,
        default_story_style: str | None = None,
        default_image_style: str | None = None,
        approved: bool | None = None,
    ) -> None:
        """Changes the given fields; None leaves a field as it is."""
        if display_name is not None:
            self.display_name = display_name
        if description is not None:
            self.description = description
        if traits is not None:
            self.traits = traits
        if default_story_style is not None:
            self.default_story_style = default_story_style
        if default_image_style is not None:
            self.default_image_style = default_image_style
        if approved is not None:
            self.approved = approved
        self.touch(now)

    def touch(self, now: datetime) -> None:
        self.update_time = max(self.update_time, now)
