"""CastingService: each handler maps the request to domain values, calls one use-case and maps
the result back. Errors are mapped by the ErrorInterceptor; nothing else happens here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from google.longrunning import operations_pb2
from google.protobuf.empty_pb2 import Empty

from casting.domain import names
from casting.domain.errors import FieldViolation, InvalidInput, NotFound
from casting.domain.usecases.actors import (
    ActorPatch,
    DeleteActor,
    ImportActor,
    ImportActorCommand,
    SaveActor,
    SaveActorCommand,
    UpdateActor,
)
from casting.domain.usecases.candidates import (
    GenerateSheet,
    GenerateSheetCommand,
    GenerateSheets,
    GenerateSheetsCommand,
)
from casting.domain.usecases.cast import CastVariant
from casting.domain.usecases.documents import GetActorDocument, ListActorDocuments, ListCastDocuments
from casting.domain.usecases.images import ReadImage
from casting.domain.usecases.sheets import GetSheet
from casting.domain.usecases.story_casting import CastStoryCommand, StartCastStory
from casting.domain.usecases.styles import ListStyles
from casting.domain.usecases.variants import (
    BranchVariant,
    BranchVariantCommand,
    DeleteVariant,
    GetVariant,
    UpdateVariant,
    VariantPatch,
)
from casting.server.mapping import (
    actor_from_document,
    actor_to_proto,
    casting_calls_from_proto,
    changes_from_proto,
    image_size_from_proto,
    operation_to_proto,
    sheet_to_proto,
    style_to_proto,
    traits_from_proto,
    variant_to_proto,
)
from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc

Context = Any  # grpc.aio.ServicerContext; handlers never touch it

ACTOR_MASK = (
    "display_name",
    "description",
    "traits",
    "default_story_style",
    "default_image_style",
    "approved",
)
VARIANT_MASK = ("display_name", "is_default")


def _story_in(project: str, value: str, field: str) -> str | None:
    """The story id of an optional story name, which must be in `project`."""
    if not value:
        return None
    story = names.parse_story(value, field)
    if story.project != project:
        raise InvalidInput.field(field, f"must be a story of {names.project(project)}")
    return story.id


def _sheet_in(project: str, value: str, field: str) -> str:
    """The sheet id of an optional sheet name; another project's sheet is not found."""
    if not value:
        return ""
    sheet = names.parse_sheet(value, field)
    if sheet.project != project:
        raise NotFound("sheet", value)
    return sheet.id


def _mask_paths(mask: Any, allowed: tuple[str, ...], message: Any) -> set[str]:
    """The paths to update (AIP-134): the mask's, or without one, every field set in `message`."""
    paths = set(mask.paths)
    if not paths:
        return {f.name for f, _ in message.ListFields() if f.name in allowed}
    unknown = sorted(paths - set(allowed))
    if unknown:
        raise InvalidInput(
            [
                FieldViolation("update_mask", f"{p!r} cannot be updated; use {', '.join(allowed)}")
                for p in unknown
            ]
        )
    return paths


class CastingServicer(casting_pb2_grpc.CastingServiceServicer):
    def __init__(
        self,
        *,
        list_styles: ListStyles,
        generate_sheet: GenerateSheet,
        generate_sheets: GenerateSheets,
        get_sheet: GetSheet,
        save_actor: SaveActor,
        import_actor: ImportActor,
        get_actor: GetActorDocument,
        list_actors: ListActorDocuments,
        update_actor: UpdateActor,
        delete_actor: DeleteActor,
        branch_variant: BranchVariant,
        get_variant: GetVariant,
        update_variant: UpdateVariant,
        delete_variant: DeleteVariant,
        cast_variant: CastVariant,
        list_story_cast: ListCastDocuments,
        read_image: ReadImage,
        cast_story: StartCastStory,
    ) -> None:
        self._list_styles = list_styles
        self._generate_sheet = generate_sheet
        self._generate_sheets = generate_sheets
        self._get_sheet = get_sheet
        self._save_actor = save_actor
        self._import_actor = import_actor
        self._get_actor = get_actor
        self._list_actors = list_actors
        self._update_actor = update_actor
        self._delete_actor = delete_actor
        self._branch_variant = branch_variant
        self._get_variant = get_variant
        self._update_variant = update_variant
        self._delete_variant = delete_variant
        self._cast_variant = cast_variant
        self._list_story_cast = list_story_cast
        self._read_image = read_image
        self._cast_story = cast_story

    async def ListStyles(self, request: pb.ListStylesRequest, context: Context) -> pb.ListStylesResponse:
        story_styles, image_styles = await self._list_styles()
        return pb.ListStylesResponse(
            story_styles=[style_to_proto(s) for s in story_styles],
            image_styles=[style_to_proto(s) for s in image_styles],
        )

    async def GenerateSheet(self, request: pb.GenerateSheetRequest, context: Context) -> pb.Sheet:
        sheet = await self._generate_sheet(
            GenerateSheetCommand(
                project=names.parse_project(request.parent, "parent"),
                story_style=request.story_style,
                image_style=request.image_style,
                traits=traits_from_proto(request.traits, "traits"),
                request_id=request.request_id,
                require_verified=request.require_verified,
                image_size=image_size_from_proto(request.image_size, "image_size"),
            )
        )
        return sheet_to_proto(sheet)

    async def GenerateSheets(
        self, request: pb.GenerateSheetsRequest, context: Context
    ) -> pb.GenerateSheetsResponse:
        project = names.parse_project(request.parent, "parent")
        actor_id = base_variant_id = ""
        if request.base_variant:
            base = names.parse_variant(request.base_variant, "base_variant")
            if base.project != project:
                raise NotFound("variant", request.base_variant)
            actor_id, base_variant_id = base.actor_id, base.variant_id
        sheets = await self._generate_sheets(
            GenerateSheetsCommand(
                project=project,
                story_style=request.story_style,
                image_style=request.image_style,
                traits=traits_from_proto(request.traits, "traits"),
                base_actor_id=actor_id,
                base_variant_id=base_variant_id,
                trait_changes=changes_from_proto(request.trait_changes, "trait_changes"),
                story=_story_in(project, request.story, "story"),
                candidate_count=request.candidate_count or 1,
                require_verified=request.require_verified,
                request_id=request.request_id,
                image_size=image_size_from_proto(request.image_size, "image_size"),
            )
        )
        return pb.GenerateSheetsResponse(sheets=[sheet_to_proto(s) for s in sheets])

    async def GetSheet(self, request: pb.GetSheetRequest, context: Context) -> pb.Sheet:
        name = names.parse_sheet(request.name, "name")
        return sheet_to_proto(await self._get_sheet(name.project, name.id))

    async def SaveActor(self, request: pb.SaveActorRequest, context: Context) -> pb.Actor:
        project = names.parse_project(request.parent, "parent")
        sheet = names.parse_sheet(request.sheet, "sheet")
        if sheet.project != project:
            raise NotFound("sheet", request.sheet)
        view = await self._save_actor(
            SaveActorCommand(
                project=project,
                sheet_id=sheet.id,
                display_name=request.display_name,
                description=request.description,
                request_id=request.request_id,
            )
        )
        return actor_to_proto(view)

    async def ImportActor(self, request: pb.ImportActorRequest, context: Context) -> pb.Actor:
        view = await self._import_actor(
            ImportActorCommand(
                project=names.parse_project(request.parent, "parent"),
                image_content=request.image_content,
                mime_type=request.mime_type,
                display_name=request.display_name,
                description=request.description,
                traits=traits_from_proto(request.traits, "traits"),
                story_style=request.story_style,
                image_style=request.image_style,
                request_id=request.request_id,
            )
        )
        return actor_to_proto(view)

    async def GetActor(self, request: pb.GetActorRequest, context: Context) -> pb.Actor:
        name = names.parse_actor(request.name, "name")
        story = _story_in(name.project, request.story, "story")
        return actor_from_document(await self._get_actor(name.project, name.id), story)

    async def ListActors(self, request: pb.ListActorsRequest, context: Context) -> pb.ListActorsResponse:
        documents, next_page_token = await self._list_actors(
            names.parse_project(request.parent, "parent"),
            request.page_size,
            request.page_token,
            request.filter,
        )
        response = pb.ListActorsResponse(next_page_token=next_page_token)
        for document in documents:
            response.actors.add().MergeFromString(document.actor)
        return response

    async def UpdateActor(self, request: pb.UpdateActorRequest, context: Context) -> pb.Actor:
        name = names.parse_actor(request.actor.name, "actor.name")
        paths = _mask_paths(request.update_mask, ACTOR_MASK, request.actor)
        actor = request.actor
        patch = ActorPatch(
            display_name=actor.display_name if "display_name" in paths else None,
            description=actor.description if "description" in paths else None,
            traits=traits_from_proto(actor.traits, "actor.traits") if "traits" in paths else None,
            default_story_style=actor.default_story_style if "default_story_style" in paths else None,
            default_image_style=actor.default_image_style if "default_image_style" in paths else None,
            approved=actor.approved if "approved" in paths else None,
        )
        return actor_to_proto(await self._update_actor(name.project, name.id, patch))

    async def DeleteActor(self, request: pb.DeleteActorRequest, context: Context) -> Empty:
        name = names.parse_actor(request.name, "name")
        await self._delete_actor(name.project, name.id)
        return Empty()

    async def BranchVariant(self, request: pb.BranchVariantRequest, context: Context) -> pb.Variant:
        base = names.parse_variant(request.base_variant, "base_variant")
        view = await self._branch_variant(
            BranchVariantCommand(
                project=base.project,
                actor_id=base.actor_id,
                base_variant_id=base.variant_id,
                display_name=request.display_name,
                story_style=request.story_style,
                image_style=request.image_style,
                trait_changes=changes_from_proto(request.trait_changes, "trait_changes"),
                story=_story_in(base.project, request.story, "story"),
                request_id=request.request_id,
                require_verified=request.require_verified,
                sheet_id=_sheet_in(base.project, request.sheet, "sheet"),
                image_size=image_size_from_proto(request.image_size, "image_size"),
            )
        )
        return variant_to_proto(view)

    async def GetVariant(self, request: pb.GetVariantRequest, context: Context) -> pb.Variant:
        name = names.parse_variant(request.name, "name")
        return variant_to_proto(await self._get_variant(name.project, name.actor_id, name.variant_id))

    async def UpdateVariant(self, request: pb.UpdateVariantRequest, context: Context) -> pb.Variant:
        name = names.parse_variant(request.variant.name, "variant.name")
        paths = _mask_paths(request.update_mask, VARIANT_MASK, request.variant)
        variant = request.variant
        patch = VariantPatch(
            display_name=variant.display_name if "display_name" in paths else None,
            is_default=variant.is_default if "is_default" in paths else None,
        )
        view = await self._update_variant(name.project, name.actor_id, name.variant_id, patch)
        return variant_to_proto(view)

    async def DeleteVariant(self, request: pb.DeleteVariantRequest, context: Context) -> Empty:
        name = names.parse_variant(request.name, "name")
        await self._delete_variant(name.project, name.actor_id, name.variant_id)
        return Empty()

    async def CastVariant(self, request: pb.CastVariantRequest, context: Context) -> pb.Variant:
        name = names.parse_variant(request.variant, "variant")
        story = _story_in(name.project, request.story, "story")
        if story is None:
            raise InvalidInput.field("story", "is required: projects/{project}/stories/{story}")
        view = await self._cast_variant(name.project, name.actor_id, name.variant_id, story)
        return variant_to_proto(view)

    async def ListStoryCast(
        self, request: pb.ListStoryCastRequest, context: Context
    ) -> pb.ListStoryCastResponse:
        story = names.parse_story(request.parent, "parent")
        members, next_page_token = await self._list_story_cast(
            story.project, story.id, request.page_size, request.page_token
        )
        response = pb.ListStoryCastResponse(next_page_token=next_page_token)
        for member in members:
            cast = response.cast.add(
                actor=names.actor(member.project, member.id), actor_display_name=member.display_name
            )
            cast.variant.MergeFromString(member.look)
        return response

    async def ReadImage(
        self, request: pb.ReadImageRequest, context: Context
    ) -> AsyncIterator[pb.ReadImageResponse]:
        name = names.parse_image(request.name, "name")
        stream = await self._read_image(name.project, name.id)
        image = stream.image
        first = True
        async for chunk in stream.chunks:
            if first:
                yield pb.ReadImageResponse(
                    data=chunk, mime_type=image.mime_type, sha256=image.sha256, size_bytes=image.size_bytes
                )
                first = False
            else:
                yield pb.ReadImageResponse(data=chunk)

    async def CastStory(self, request: pb.CastStoryRequest, context: Context) -> operations_pb2.Operation:
        story = names.parse_story(request.story, "story")
        command = CastStoryCommand(
            project=story.project,
            story=story.id,
            calls=casting_calls_from_proto(story.project, request.roles),
            request_id=request.request_id,
        )
        return operation_to_proto(await self._cast_story(command))
