"""Actor use-cases: save a sheet or import a picture as an actor; get, list, update, delete."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from casting.domain import names, styles
from casting.domain.errors import FieldViolation, InvalidImage, InvalidInput, NotFound
from casting.domain.model import Actor, VariantKind
from casting.domain.pagination import Cursor, PageRequest, page_request, split_page
from casting.domain.ports import ActorCache, ActorFilter, Clock, IdFactory, ImageCodec, UnitOfWork
from casting.domain.usecases.filters import parse_actor_filter
from casting.domain.usecases.idempotency import (
    Idempotency,
    RequestKey,
    request_id_violations,
    request_key,
)
from casting.domain.usecases.images import ImageKeeper
from casting.domain.usecases.sheets import live_sheet
from casting.domain.usecases.views import ActorPage, ActorView
from casting.domain.values import MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, Traits, text_violation

ACCEPTED_UPLOADS = ("image/png", "image/jpeg", "image/webp")


def naming_violations(
    display_name: str | None, description: str | None, prefix: str = ""
) -> list[FieldViolation]:
    """Violations of a display name (required when given) and a description; None is unchecked."""
    found = []
    if display_name is not None:
        found += text_violation(f"{prefix}display_name", display_name, MAX_NAME_CHARS, required=True)
    if description is not None:
        found += text_violation(f"{prefix}description", description, MAX_DESCRIPTION_CHARS, multiline=True)
    return found


def raise_if(violations: list[FieldViolation]) -> None:
    if violations:
        raise InvalidInput(violations)


async def load_actor(uow: UnitOfWork, project: str, actor_id: str, *, for_update: bool = False) -> Actor:
    actor = await uow.actors.get(project, actor_id, for_update=for_update)
    if actor is None:
        raise NotFound("actor", names.actor(project, actor_id))
    return actor


def actor_cursor(actor: Actor) -> Cursor:
    """Where a page of actors (newest first) ends."""
    return Cursor(actor.create_time, actor.id)


def global_view(actor: Actor) -> ActorView:
    return ActorView(actor, actor.visible_variants(None))


async def replay_actor(uow: UnitOfWork, project: str, actor_id: str) -> ActorView:
    """What SaveActor and ImportActor answer a retried request: the actor made the first time."""
    return global_view(await load_actor(uow, project, actor_id))


@dataclass(frozen=True, slots=True)
class SaveActorCommand:
    project: str
    sheet_id: str
    display_name: str
    description: str = ""
    request_id: str = ""


class SaveActor:
    """Turns a preview sheet into an actor whose default look ("Default", BASE) is the sheet.

    The actor is approved, as the seed has it: someone looked at the preview and kept it."""

    operation = "SaveActor"

    def __init__(
        self, uow: Callable[[], UnitOfWork], idempotency: Idempotency, ids: IdFactory, clock: Clock
    ) -> None:
        self._uow = uow
        self._idempotency = idempotency
        self._ids = ids
        self._clock = clock

    async def __call__(self, command: SaveActorCommand) -> ActorView:
        raise_if(
            naming_violations(command.display_name, command.description)
            + request_id_violations(command.request_id)
        )
        key = request_key(self.operation, command)
        return await self._idempotency.create_once(
            self._uow, key, replay_actor, lambda: self._save(command, key)
        )

    async def _save(self, command: SaveActorCommand, key: RequestKey) -> ActorView:
        async with self._uow() as uow:
            now = self._clock.now()
            sheet = await live_sheet(uow, command.project, command.sheet_id, now, for_update=True)
            sheet.check_first_sheet()
            actor = Actor.found(
                actor_id=self._ids.new_id(),
                look_id=self._ids.new_id(),
                project=command.project,
                display_name=command.display_name,
                description=command.description,
                kind=VariantKind.BASE,
                traits=sheet.traits,
                story_style=sheet.story_style,
                image_style=sheet.image_style,
                image=sheet.image,
                provenance=sheet.provenance,
                approved=True,
                now=now,
            )
            sheet.mark_saved(actor.id)
            await uow.actors.add(actor)
            await uow.sheets.save(sheet)
            await self._idempotency.remember(uow, key, actor.id)
            await uow.commit()
        return global_view(actor)


@dataclass(frozen=True, slots=True)
class ImportActorCommand:
    project: str
    image_content: bytes
    display_name: str
    mime_type: str = ""
    description: str = ""
    traits: Traits = Traits()
    story_style: str = ""
    image_style: str = ""
    request_id: str = ""


class ImportActor:
    """Makes an actor from an uploaded PNG, JPEG or WebP; its default look ("Imported", IMPORTED)
    is the picture.

    The picture is judged by its content, and stored re-encoded without its metadata. The actor
    starts unapproved: unlike a saved preview, chosen from what the model drew, an upload has
    had no review here."""

    operation = "ImportActor"

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        codec: ImageCodec,
        keeper: ImageKeeper,
        idempotency: Idempotency,
        ids: IdFactory,
        clock: Clock,
        max_upload_bytes: int,
    ) -> None:
        self._uow = uow
        self._codec = codec
        self._keeper = keeper
        self._idempotency = idempotency
        self._ids = ids
        self._clock = clock
        self._max_upload_bytes = max_upload_bytes

    async def __call__(self, command: ImportActorCommand) -> ActorView:
        story_style = command.story_style or styles.STORY_STYLES[0].id
        image_style = command.image_style or styles.IMAGE_STYLES[0].id
        raise_if(
            naming_violations(command.display_name, command.description)
            + command.traits.violations("traits")
            + styles.style_violations(story_style, image_style)
            + self._upload_violations(command)
            + request_id_violations(command.request_id)
        )
        key = request_key(self.operation, command)
        return await self._idempotency.create_once(
            self._uow, key, replay_actor, lambda: self._import(command, story_style, image_style, key)
        )

    async def _import(
        self, command: ImportActorCommand, story_style: str, image_style: str, key: RequestKey
    ) -> ActorView:
        try:
            data, facts = await self._codec.sanitize(command.image_content)
        except InvalidImage as error:
            raise InvalidInput.field("image_content", error.message) from None
        if command.mime_type and command.mime_type != facts.mime_type:
            raise InvalidInput.field(
                "mime_type", f"says {command.mime_type} but the content is {facts.mime_type}"
            )
        image = await self._keeper.keep(command.project, data, facts)
        actor = Actor.found(
            actor_id=self._ids.new_id(),
            look_id=self._ids.new_id(),
            project=command.project,
            display_name=command.display_name,
            description=command.description,
            kind=VariantKind.IMPORTED,
            traits=command.traits,
            story_style=story_style,
            image_style=image_style,
            image=image,
            provenance=None,
            approved=False,
            now=self._clock.now(),
        )
        async with self._uow() as uow:
            await uow.images.add(image)
            await uow.actors.add(actor)
            await self._idempotency.remember(uow, key, actor.id)
            await uow.commit()
        return global_view(actor)

    def _upload_violations(self, command: ImportActorCommand) -> list[FieldViolation]:
        if not command.image_content:
            return [FieldViolation("image_content", "is required: the picture's bytes")]
        if len(command.image_content) > self._max_upload_bytes:
            return [FieldViolation("image_content", f"must be at most {self._max_upload_bytes} bytes")]
        if command.mime_type and command.mime_type not in ACCEPTED_UPLOADS:
            return [FieldViolation("mime_type", f"must be one of {', '.join(ACCEPTED_UPLOADS)}")]
        return []


async def read_actor(
    uow: Callable[[], UnitOfWork], recent: ActorCache[Actor], project: str, actor_id: str
) -> Actor:
    """The actor for a use-case that only reads: it may come from `recent`."""

    async def load() -> Actor:
        async with uow() as unit:
            actor = await unit.actors.read(project, actor_id)
        if actor is None:
            raise NotFound("actor", names.actor(project, actor_id))
        return actor

    return await recent.get(project, actor_id, load)


class GetActor:
    def __init__(self, uow: Callable[[], UnitOfWork], recent: ActorCache[Actor]) -> None:
        self._uow = uow
        self._recent = recent

    async def __call__(self, project: str, actor_id: str, story: str | None = None) -> ActorView:
        """The actor with its global looks, plus `story`'s looks when a story is named."""
        actor = await read_actor(self._uow, self._recent, project, actor_id)
        return ActorView(actor, actor.visible_variants(story))


def actor_page(
    project: str, page_size: int, page_token: str, filter_text: str
) -> tuple[ActorFilter, PageRequest, str]:
    """ListActors' filter, page, and the query its page tokens are bound to."""
    query = f"actors|{project}|{filter_text}"
    return parse_actor_filter(filter_text), page_request(page_size, page_token, query), query


class ListActors:
    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def __call__(self, project: str, page_size: int, page_token: str, filter_text: str) -> ActorPage:
        """A page of the project's actors, newest first, each with its global looks."""
        where, page, query = actor_page(project, page_size, page_token, filter_text)
        async with self._uow() as uow:
            rows = await uow.actors.list(project, where, page)
        actors, token = split_page(rows, page, query, actor_cursor)
        return ActorPage([global_view(a) for a in actors], token)


@dataclass(frozen=True, slots=True)
class ActorPatch:
    """The fields UpdateActor changes; None leaves a field alone."""

    display_name: str | None = None
    description: str | None = None
    traits: Traits | None = None
    default_story_style: str | None = None
    default_image_style: str | None = None
    approved: bool | None = None


class UpdateActor:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, project: str, actor_id: str, patch: ActorPatch) -> ActorView:
        if patch == ActorPatch():
            raise InvalidInput.field("update_mask", "names no field to update")
        raise_if(
            naming_violations(patch.display_name, patch.description, "actor.")
            + (patch.traits.violations("actor.traits") if patch.traits else [])
            + styles.style_violations(
                patch.default_story_style,
                patch.default_image_style,
                story_field="actor.default_story_style",
                image_field="actor.default_image_style",
            )
        )
        async with self._uow() as uow:
            actor = await load_actor(uow, project, actor_id, for_update=True)
            actor.revise(
                self._clock.now(),
                display_name=patch.display_name,
                description=patch.description,
                traits=patch.traits,
                default_story_style=patch.default_story_style,
                default_image_style=patch.default_image_style,
                approved=patch.approved,
            )
            await uow.actors.save(actor)
            await uow.commit()
        return global_view(actor)


class DeleteActor:
    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def __call__(self, project: str, actor_id: str) -> None:
        """Deletes the actor, its looks and casts; unreferenced blobs are collected later."""
        async with self._uow() as uow:
            actor = await load_actor(uow, project, actor_id, for_update=True)
            await uow.actors.delete(actor)
            await uow.commit()
