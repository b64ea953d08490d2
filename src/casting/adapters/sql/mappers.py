"""Rows <-> domain: the one place that knows both shapes.

`*_from_row` builds a domain object from fully loaded rows. `write_*` copies a domain object
onto a row, new or loaded, so that creating and updating share one field list. `*_values` are a
new row's columns, for the repositories that add rows with one INSERT rather than through the
session's unit of work. Writes set image ids only: image rows are added by the image repository,
never through an aggregate.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any

from sqlalchemy import Row

from casting.adapters.sql.models import (
    ActorRow,
    CastRow,
    ImageRow,
    OperationRow,
    ProvenanceColumns,
    ReferenceImageRow,
    RoleOutcomeRow,
    SheetRow,
    ThumbnailRow,
    VariantImageRow,
    VariantRow,
)
from casting.domain.model import Actor, LookBase, Sheet, Variant, VariantKind
from casting.domain.operations import CastingCall, CastingOperation, RoleFailure, RoleOutcome
from casting.domain.ports import IdempotencyRecord, Thumbnail
from casting.domain.values import (
    NOT_VERIFIED_BEFORE,
    AgeRange,
    Gender,
    Image,
    Provenance,
    TraitChanges,
    Traits,
    Usage,
    Verification,
    VerificationCheck,
)

_ENUM_TRAITS: dict[str, type[enum.Enum]] = {"gender": Gender, "age_range": AgeRange}


def _traits_json(values: Mapping[str, object]) -> dict[str, str]:
    return {
        name: value.value if isinstance(value, enum.Enum) else str(value) for name, value in values.items()
    }


def _traits_fields(data: Mapping[str, str]) -> dict[str, Any]:
    return {
        name: _ENUM_TRAITS[name](value) if name in _ENUM_TRAITS else value for name, value in data.items()
    }


def traits_to_json(traits: Traits) -> dict[str, str]:
    return _traits_json(asdict(traits))


def traits_from_json(data: Mapping[str, str]) -> Traits:
    return Traits(**_traits_fields(data))


def trait_changes_to_json(changes: TraitChanges) -> dict[str, str]:
    return _traits_json(changes.as_dict())


def trait_changes_from_json(data: Mapping[str, str]) -> TraitChanges:
    return TraitChanges(**_traits_fields(data))


# The images table's columns in the order of Image's fields: a Core read selects these and
# builds an Image from them positionally.
IMAGE_COLUMNS = tuple(f.name for f in fields(Image))


def image_from_row(row: ImageRow) -> Image:
    return Image(
        id=row.id,
        project=row.project,
        blob_key=row.blob_key,
        mime_type=row.mime_type,
        width=row.width,
        height=row.height,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        create_time=row.create_time,
    )


def image_values(image: Image) -> dict[str, Any]:
    return _fields_of(image)


def _provenance_from_row(row: ProvenanceColumns) -> Provenance | None:
    if row.generator is None:
        return None
    return Provenance(
        generator=row.generator,
        model=row.model or "",
        prompt_version=row.prompt_version or "",
        prompt_sha256=row.prompt_sha256 or "",
        reference_image_ids=tuple(row.reference_image_ids or ()),
        duration_seconds=row.duration_seconds or 0.0,
        verification=verification_from_document(row.verification),
        usage=Usage(row.model_calls, row.input_tokens, row.output_tokens, row.cost_micros),
    )


def _provenance_values(provenance: Provenance | None) -> dict[str, Any]:
    """The ProvenanceColumns of a sheet or a look."""
    usage = provenance.usage if provenance else Usage()
    return {
        "generator": provenance.generator if provenance else None,
        "model": provenance.model if provenance else None,
        "prompt_version": provenance.prompt_version if provenance else None,
        "prompt_sha256": provenance.prompt_sha256 if provenance else None,
        "reference_image_ids": list(provenance.reference_image_ids) if provenance else None,
        "duration_seconds": provenance.duration_seconds if provenance else None,
        "verification": verification_document(provenance.verification) if provenance else None,
        "model_calls": usage.model_calls,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cost_micros": usage.cost_micros,
    }


def _write(row: object, values: Mapping[str, Any]) -> None:
    for column, value in values.items():
        setattr(row, column, value)


def verification_document(verification: Verification) -> dict[str, Any]:
    """The verdict as the JSON the `verification` column keeps."""
    return {
        "passed": verification.passed,
        "identity_score": verification.identity_score,
        "checks": [{"rule": c.rule, "passed": c.passed, "detail": c.detail} for c in verification.checks],
        "judge": verification.judge,
        "draws": verification.draws,
        "unverified_reason": verification.unverified_reason,
    }


def verification_from_document(document: dict[str, Any] | None) -> Verification:
    """The verdict a `verification` column keeps; NULL (a row from before judging) is unverified."""
    if document is None:
        return Verification.unverified(NOT_VERIFIED_BEFORE)
    return Verification(
        passed=bool(document["passed"]),
        identity_score=document.get("identity_score"),
        checks=tuple(
            VerificationCheck(c["rule"], bool(c["passed"]), c.get("detail", "")) for c in document["checks"]
        ),
        judge=document.get("judge", ""),
        draws=int(document.get("draws", 1)),
        unverified_reason=document.get("unverified_reason", ""),
    )


def variant_from_row(row: VariantRow) -> Variant:
    reference = image_from_row(row.reference_images[0].image) if row.reference_images else None
    return variant_from_columns(row, reference, [image_from_row(link.image) for link in row.images])


def variant_from_columns(row: Any, reference_image: Image | None, images: list[Image]) -> Variant:
    """A look from its columns (an ORM row or a Core row of character_variants), its
    reference image and its own images."""
    return Variant(
        id=row.id,
        actor_id=row.character_id,
        kind=VariantKind(row.kind),
        display_name=row.display_name,
        story=row.story_id,
        story_style=row.story_style,
        image_style=row.image_style,
        traits=traits_from_json(row.traits),
        trait_changes=trait_changes_from_json(row.trait_changes),
        parent_id=row.parent_variant_id,
        reference_image=reference_image,
        images=images,
        is_default=row.is_default,
        provenance=_provenance_from_row(row),
        create_time=row.create_time,
        update_time=row.update_time,
    )


def actor_from_row(row: ActorRow) -> Actor:
    casts = {cast.story_id: cast.variant_id for cast in row.casts}
    return actor_from_columns(row, [variant_from_row(variant) for variant in row.variants], casts)


def actor_from_columns(row: Any, variants: list[Variant], casts: dict[str, str]) -> Actor:
    """An actor from its columns (an ORM row or a Core row of characters), looks and casts."""
    return Actor(
        id=row.id,
        project=row.project,
        display_name=row.display_name,
        description=row.description,
        traits=traits_from_json(row.traits),
        default_story_style=row.default_story_style,
        default_image_style=row.default_image_style,
        approved=row.approved,
        create_time=row.create_time,
        update_time=row.update_time,
        variants=variants,
        casts=casts,
    )


def write_actor(row: ActorRow, actor: Actor) -> None:
    """Brings `row` and its children in line with `actor`: changed fields, new, changed and
    removed variants, their image lists, and the casts."""
    row.id = actor.id
    row.project = actor.project
    row.display_name = actor.display_name
    row.description = actor.description
    row.traits = traits_to_json(actor.traits)
    row.default_story_style = actor.default_story_style
    row.default_image_style = actor.default_image_style
    row.approved = actor.approved
    row.create_time = actor.create_time
    row.update_time = actor.update_time

    loaded = {variant.id: variant for variant in row.variants}
    variants = []
    for variant in actor.variants:
        variant_row = loaded.get(variant.id) or VariantRow(id=variant.id)
        _write_variant(variant_row, variant)
        variants.append(variant_row)
    row.variants = variants  # a dropped row is an orphan, deleted at flush

    casts = {cast.story_id: cast for cast in row.casts}
    row.casts = [
        _write_cast(casts.get(story) or CastRow(story_id=story), actor.project, variant_id)
        for story, variant_id in actor.casts.items()
    ]


def _write_variant(row: VariantRow, variant: Variant) -> None:
    row.character_id = variant.actor_id
    row.story_id = variant.story
    row.kind = variant.kind.value
    row.display_name = variant.display_name
    row.story_style = variant.story_style
    row.image_style = variant.image_style
    row.traits = traits_to_json(variant.traits)
    row.trait_changes = trait_changes_to_json(variant.trait_changes)
    row.parent_variant_id = variant.parent_id
    row.is_default = variant.is_default
    row.create_time = variant.create_time
    row.update_time = variant.update_time
    _write(row, _provenance_values(variant.provenance))
    references = [variant.reference_image] if variant.reference_image else []
    _write_image_links(row.reference_images, references, ReferenceImageRow)
    _write_image_links(row.images, variant.images, VariantImageRow)


def _write_image_links(
    links: list[Any],
    images: list[Image],
    link_type: type[VariantImageRow] | type[ReferenceImageRow],
) -> None:
    """Updates an ordered image list in place, position by position: rewriting unchanged rows
    would be churn, and deleting and re-inserting a (variant, position) key in one flush is
    an ordering hazard."""
    for position, image in enumerate(images):
        if position < len(links):
            if links[position].image_id != image.id:
                links[position].image_id = image.id
        else:
            links.append(link_type(position=position, image_id=image.id))
    del links[len(images) :]


def _write_cast(row: CastRow, project: str, variant_id: str) -> CastRow:
    row.project = project
    row.variant_id = variant_id
    return row


def sheet_from_row(row: SheetRow) -> Sheet:
    provenance = _provenance_from_row(row)
    if provenance is None:
        raise ValueError(f"sheet {row.id} has no provenance")
    return Sheet(
        id=row.id,
        project=row.project,
        story_style=row.story_style,
        image_style=row.image_style,
        traits=traits_from_json(row.traits),
        image=image_from_row(row.image),
        provenance=provenance,
        create_time=row.create_time,
        expire_time=row.expire_time,
        actor_id=row.character_id,
        base=_look_base_from_row(row),
    )


def _look_base_from_row(row: SheetRow) -> LookBase | None:
    if row.base_character_id is None or row.base_variant_id is None:
        return None
    return LookBase(
        actor_id=row.base_character_id,
        variant_id=row.base_variant_id,
        trait_changes=trait_changes_from_json(row.base_trait_changes or {}),
        story=row.base_story_id,
    )


def sheet_values(sheet: Sheet) -> dict[str, Any]:
    """The sheet's columns but its row version, which the mapper keeps."""
    base = sheet.base
    return {
        "id": sheet.id,
        "project": sheet.project,
        "story_style": sheet.story_style,
        "image_style": sheet.image_style,
        "traits": traits_to_json(sheet.traits),
        "image_id": sheet.image.id,
        "create_time": sheet.create_time,
        "expire_time": sheet.expire_time,
        "character_id": sheet.actor_id,
        "base_character_id": base.actor_id if base else None,
        "base_variant_id": base.variant_id if base else None,
        "base_trait_changes": trait_changes_to_json(base.trait_changes) if base else None,
        "base_story_id": base.story if base else None,
        **_provenance_values(sheet.provenance),
    }


def write_sheet(row: SheetRow, sheet: Sheet) -> None:
    _write(row, sheet_values(sheet))


def idempotency_from_row(row: Row[Any]) -> IdempotencyRecord:
    """From a row of the idempotency_keys table (read with Core: one statement, no session)."""
    return IdempotencyRecord(
        project=row.project,
        operation=row.operation,
        request_id=row.request_id,
        fingerprint=row.fingerprint,
        resource_id=row.resource_id,
        create_time=row.create_time,
    )


def idempotency_values(record: IdempotencyRecord) -> dict[str, Any]:
    return _fields_of(record)


def _fields_of(value: Any) -> dict[str, Any]:
    """A dataclass's fields, named as its table's columns are (an INSERT refuses a name its
    table lacks); shallow, unlike asdict."""
    return {f.name: getattr(value, f.name) for f in fields(value)}


def thumbnail_from_row(row: ThumbnailRow) -> Thumbnail:
    return Thumbnail(**{f.name: getattr(row, f.name) for f in fields(Thumbnail)})


def thumbnail_to_row(thumbnail: Thumbnail) -> ThumbnailRow:
    return ThumbnailRow(**asdict(thumbnail))


def _call_to_json(call: CastingCall) -> dict[str, Any]:
    return {
        "role": call.role,
        "actor_id": call.actor_id,
        "traits": traits_to_json(call.traits) if call.traits is not None else None,
        "story_style": call.story_style,
        "image_style": call.image_style,
        "trait_changes": trait_changes_to_json(call.trait_changes),
        "candidate_count": call.candidate_count,
    }


def _call_from_json(data: Mapping[str, Any]) -> CastingCall:
    return CastingCall(
        role=data["role"],
        actor_id=data["actor_id"],
        traits=traits_from_json(data["traits"]) if data["traits"] is not None else None,
        story_style=data["story_style"],
        image_style=data["image_style"],
        trait_changes=trait_changes_from_json(data["trait_changes"]),
        candidate_count=data["candidate_count"],
    )


def operation_from_row(row: OperationRow) -> CastingOperation:
    return CastingOperation(
        id=row.id,
        project=row.project,
        story=row.story,
        calls=tuple(_call_from_json(c) for c in row.calls),
        create_time=row.create_time,
        update_time=row.update_time,
        expire_time=row.expire_time,
        cancelled=row.cancelled,
        outcomes={o.role_index: _outcome_from_row(o) for o in row.outcomes},
    )


def _outcome_from_row(row: RoleOutcomeRow) -> RoleOutcome:
    failure = RoleFailure(**row.failure) if row.failure is not None else None
    return RoleOutcome(row.role_index, row.actor_id, row.variant_id, failure, row.finish_time)


def write_operation(row: OperationRow, operation: CastingOperation) -> None:
    """The operation's own fields; outcomes are added one by one (outcome_to_row)."""
    row.project = operation.project
    row.id = operation.id
    row.story = operation.story
    row.calls = [_call_to_json(c) for c in operation.calls]
    row.roles_total = len(operation.calls)
    row.cancelled = operation.cancelled
    row.create_time = operation.create_time
    row.update_time = operation.update_time
    row.expire_time = operation.expire_time


def outcome_to_row(project: str, operation_id: str, outcome: RoleOutcome) -> RoleOutcomeRow:
    return RoleOutcomeRow(
        project=project,
        operation_id=operation_id,
        role_index=outcome.index,
        actor_id=outcome.actor_id,
        variant_id=outcome.variant_id,
        failure=asdict(outcome.failure) if outcome.failure is not None else None,
        finish_time=outcome.finish_time,
    )
