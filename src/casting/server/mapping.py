"""The one mapping between the contract's messages and domain values, both ways."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from google.longrunning import operations_pb2
from google.protobuf.any_pb2 import Any as AnyMessage
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import code_pb2, status_pb2

from casting.domain import names
from casting.domain.documents import ActorDocument, LookDocument
from casting.domain.errors import InvalidInput
from casting.domain.model import Actor, Sheet, VariantKind
from casting.domain.operations import CastingCall
from casting.domain.usecases.actors import global_view
from casting.domain.usecases.story_casting import OperationView
from casting.domain.usecases.views import ActorView, VariantView
from casting.domain.values import (
    AgeRange,
    Gender,
    Image,
    Provenance,
    Style,
    TraitChanges,
    Traits,
    Usage,
    Verification,
)
from casting.server.errors import failure_status
from casting.v1 import casting_pb2 as pb

_GENDERS = {
    Gender.UNSPECIFIED: pb.GENDER_UNSPECIFIED,
    Gender.FEMALE: pb.GENDER_FEMALE,
    Gender.MALE: pb.GENDER_MALE,
    Gender.NONBINARY: pb.GENDER_NONBINARY,
}
_AGES = {
    AgeRange.UNSPECIFIED: pb.AGE_RANGE_UNSPECIFIED,
    AgeRange.CHILD: pb.AGE_RANGE_CHILD,
    AgeRange.TEEN: pb.AGE_RANGE_TEEN,
    AgeRange.YOUNG_ADULT: pb.AGE_RANGE_YOUNG_ADULT,
    AgeRange.MIDDLE_AGED: pb.AGE_RANGE_MIDDLE_AGED,
    AgeRange.ELDERLY: pb.AGE_RANGE_ELDERLY,
}
_GENDERS_BACK = {v: k for k, v in _GENDERS.items()}
_AGES_BACK = {v: k for k, v in _AGES.items()}
_KINDS = {
    VariantKind.BASE: pb.Variant.KIND_BASE,
    VariantKind.DERIVED: pb.Variant.KIND_DERIVED,
    VariantKind.IMPORTED: pb.Variant.KIND_IMPORTED,
}
_TEXT_FIELDS = ("face_traits", "hair_traits", "outfit", "mood", "custom_prompt")


def _gender(value: int, field: str) -> Gender:
    if value not in _GENDERS_BACK:
        raise InvalidInput.field(field, f"unknown gender {value}")
    return _GENDERS_BACK[value]


_IMAGE_SIZES = {
    pb.IMAGE_SIZE_UNSPECIFIED: "",
    pb.IMAGE_SIZE_1K: "1K",
    pb.IMAGE_SIZE_2K: "2K",
    pb.IMAGE_SIZE_4K: "4K",
}


def image_size_from_proto(value: int, field: str) -> str:
    """ "" (the model's default), "1K", "2K" or "4K"; whether the model draws it is its to say."""
    if value not in _IMAGE_SIZES:
        raise InvalidInput.field(field, f"unknown image size {value}")
    return _IMAGE_SIZES[value]


def _age(value: int, field: str) -> AgeRange:
    if value not in _AGES_BACK:
        raise InvalidInput.field(field, f"unknown age range {value}")
    return _AGES_BACK[value]


def traits_from_proto(message: pb.Traits, field: str) -> Traits:
    return Traits(
        gender=_gender(message.gender, f"{field}.gender"),
        age_range=_age(message.age_range, f"{field}.age_range"),
        **{name: getattr(message, name) for name in _TEXT_FIELDS},
    )


def traits_to_proto(traits: Traits) -> pb.Traits:
    return pb.Traits(
        gender=_GENDERS[traits.gender],
        age_range=_AGES[traits.age_range],
        **{name: getattr(traits, name) for name in _TEXT_FIELDS},
    )


def changes_from_proto(message: pb.TraitChanges, field: str) -> TraitChanges:
    set_text = {name: getattr(message, name) for name in _TEXT_FIELDS if message.HasField(name)}
    return TraitChanges(
        gender=_gender(message.gender, f"{field}.gender") if message.HasField("gender") else None,
        age_range=_age(message.age_range, f"{field}.age_range") if message.HasField("age_range") else None,
        **set_text,
    )


def changes_to_proto(changes: TraitChanges) -> pb.TraitChanges:
    values = changes.as_dict()
    if changes.gender is not None:
        values["gender"] = _GENDERS[changes.gender]
    if changes.age_range is not None:
        values["age_range"] = _AGES[changes.age_range]
    return pb.TraitChanges(**values)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(moment: datetime) -> Timestamp:
    """An aware datetime as a Timestamp: the arithmetic Timestamp.FromDatetime does through time
    tuples, at a fraction of its cost (ten of these go into every actor answered)."""
    since = moment - _EPOCH
    return Timestamp(seconds=since.days * 86_400 + since.seconds, nanos=since.microseconds * 1000)


def style_to_proto(style: Style) -> pb.Style:
    return pb.Style(id=style.id, display_name=style.display_name, description=style.description)


def image_to_proto(image: Image) -> pb.Image:
    return pb.Image(
        name=names.image(image.project, image.id),
        mime_type=image.mime_type,
        width=image.width,
        height=image.height,
        size_bytes=image.size_bytes,
        sha256=image.sha256,
    )


def provenance_to_proto(provenance: Provenance, project: str) -> pb.Generation:
    duration = Duration()
    duration.FromNanoseconds(round(provenance.duration_seconds * 1e9))
    return pb.Generation(
        generator=provenance.generator,
        model=provenance.model,
        prompt_version=provenance.prompt_version,
        prompt_sha256=provenance.prompt_sha256,
        reference_images=[names.image(project, i) for i in provenance.reference_image_ids],
        duration=duration,
        verification=verification_to_proto(provenance.verification),
        usage=usage_to_proto(provenance.usage),
    )


def verification_to_proto(verification: Verification) -> pb.Verification:
    message = pb.Verification(
        passed=verification.passed,
        checks=[
            pb.VerificationCheck(rule=c.rule, passed=c.passed, detail=c.detail) for c in verification.checks
        ],
        judge=verification.judge,
        draws=verification.draws,
        unverified_reason=verification.unverified_reason,
    )
    if verification.identity_score is not None:
        message.identity_score = verification.identity_score
    return message


def usage_to_proto(usage: Usage) -> pb.Usage:
    return pb.Usage(
        model_calls=usage.model_calls,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cost_micros=usage.cost_micros,
    )


def sheet_to_proto(sheet: Sheet) -> pb.Sheet:
    return pb.Sheet(
        name=names.sheet(sheet.project, sheet.id),
        story_style=sheet.story_style,
        image_style=sheet.image_style,
        traits=traits_to_proto(sheet.traits),
        image=image_to_proto(sheet.image),
        generation=provenance_to_proto(sheet.provenance, sheet.project),
        create_time=timestamp(sheet.create_time),
        expire_time=timestamp(sheet.expire_time),
        actor=names.actor(sheet.project, sheet.actor_id) if sheet.actor_id else "",
        base_variant=names.variant(sheet.project, sheet.base.actor_id, sheet.base.variant_id)
        if sheet.base
        else "",
        story=names.story(sheet.project, sheet.base.story) if sheet.base and sheet.base.story else "",
    )


def variant_to_proto(view: VariantView) -> pb.Variant:
    actor, variant = view.actor, view.variant
    project = actor.project
    images = [image_to_proto(i) for i in variant.images]
    message = pb.Variant(
        name=names.variant(project, actor.id, variant.id),
        display_name=variant.display_name,
        kind=_KINDS[variant.kind],
        story=names.story(project, variant.story) if variant.story else "",
        story_style=variant.story_style,
        image_style=variant.image_style,
        traits=traits_to_proto(variant.traits),
        trait_changes=changes_to_proto(variant.trait_changes),
        parent_variant=names.variant(project, actor.id, variant.parent_id) if variant.parent_id else "",
        images=images,
        is_default=variant.is_default,
        cast_stories=[names.story(project, s) for s in actor.cast_stories(variant.id)],
        create_time=timestamp(variant.create_time),
        update_time=timestamp(variant.update_time),
    )
    reference = variant.reference_image
    if reference is not None:
        # A drawn look's reference is mostly its own first image: mapped once, not twice.
        same = variant.images and variant.images[0].id == reference.id
        message.reference_image.CopyFrom(images[0] if same else image_to_proto(reference))
    if variant.provenance is not None:
        message.generation.CopyFrom(provenance_to_proto(variant.provenance, project))
    return message


def actor_to_proto(view: ActorView) -> pb.Actor:
    actor = view.actor
    return pb.Actor(
        name=actor.name,
        display_name=actor.display_name,
        description=actor.description,
        traits=traits_to_proto(actor.traits),
        default_story_style=actor.default_story_style,
        default_image_style=actor.default_image_style,
        approved=actor.approved,
        default_variant=names.variant(actor.project, actor.id, actor.default_variant.id),
        variants=[variant_to_proto(VariantView(actor, v)) for v in view.variants],
        create_time=timestamp(actor.create_time),
        update_time=timestamp(actor.update_time),
        variant_count=len(actor.variants),
    )


def render_actor(actor: Actor) -> ActorDocument:
    """The documents the read side answers `actor` with (domain.ports.ActorRenderer), as the
    mappings above make them: the actor with its global looks, and each look."""
    return ActorDocument(
        project=actor.project,
        id=actor.id,
        create_time=actor.create_time,
        actor=actor_to_proto(global_view(actor)).SerializeToString(),
        looks=tuple(
            LookDocument(look.id, look.story, variant_to_proto(VariantView(actor, look)).SerializeToString())
            for look in actor.variants
        ),
    )


def actor_from_document(document: ActorDocument, story: str | None) -> pb.Actor:
    """The actor with its global looks, and `story`'s when one is named."""
    message = pb.Actor.FromString(document.actor)
    for look in document.story_looks(story):
        message.variants.add().MergeFromString(look)
    return message


def casting_calls_from_proto(project: str, roles: Iterable[pb.CastingCall]) -> tuple[CastingCall, ...]:
    """The roles of a CastStoryRequest; a reused actor must be of the story's project."""
    calls = []
    for index, message in enumerate(roles):
        at = f"roles[{index}]"
        actor_id, traits = None, None
        if message.WhichOneof("who") == "actor":
            actor = names.parse_actor(message.actor, f"{at}.actor")
            if actor.project != project:
                raise InvalidInput.field(f"{at}.actor", f"must be an actor of {names.project(project)}")
            actor_id = actor.id
        elif message.WhichOneof("who") == "traits":
            traits = traits_from_proto(message.traits, f"{at}.traits")
        calls.append(
            CastingCall(
                role=message.role,
                actor_id=actor_id,
                traits=traits,
                story_style=message.story_style,
                image_style=message.image_style,
                trait_changes=changes_from_proto(message.trait_changes, f"{at}.trait_changes"),
                candidate_count=message.candidate_count,
            )
        )
    return tuple(calls)


def _packed(message: Message) -> AnyMessage:
    packed = AnyMessage()
    packed.Pack(message)
    return packed


def operation_to_proto(view: OperationView) -> operations_pb2.Operation:
    """AIP-151: the metadata always; once done, the cast as the response, or CANCELLED."""
    operation = view.operation
    metadata = pb.CastStoryMetadata(
        story=names.story(operation.project, operation.story),
        roles_total=len(operation.calls),
        roles_done=len(operation.outcomes),
        failed=[pb.FailedRole(role=call.role, status=failure_status(f)) for call, f in operation.failures()],
        create_time=timestamp(operation.create_time),
        update_time=timestamp(operation.update_time),
    )
    message = operations_pb2.Operation(
        name=names.operation(operation.project, operation.id),
        metadata=_packed(metadata),
        done=operation.done,
    )
    if operation.cancelled:
        message.error.CopyFrom(
            status_pb2.Status(code=code_pb2.CANCELLED, message="the operation was cancelled")
        )
    elif operation.done:
        cast = [
            pb.CastMember(
                actor=member.look.actor.name,
                actor_display_name=member.look.actor.display_name,
                variant=variant_to_proto(member.look),
                role=member.role,
            )
            for member in view.cast
        ]
        message.response.CopyFrom(_packed(pb.CastStoryResponse(cast=cast)))
    return message
