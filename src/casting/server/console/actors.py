"""The actor view: its looks with their lineage, a story's looks and cast, and the changes a
person makes there (default look, cast, delete a look, delete the actor)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from casting.domain.errors import DomainError, InvalidInput
from casting.domain.model import Variant
from casting.domain.usecases.actors import DeleteActor, GetActor
from casting.domain.usecases.cast import CastVariant
from casting.domain.usecases.variants import DeleteVariant, UpdateVariant, VariantPatch
from casting.server.console.forms import story_id
from casting.server.console.handling import go_to, posted, project_of
from casting.server.console.rendering import render
from casting.server.console.words import Said, plain_words

# A change to one look: (project, actor id, look id, story or None).
LookChange = Callable[[str, str, str, str | None], Awaitable[None]]
Handler = Callable[[web.Request], Awaitable[web.Response]]


@dataclass(slots=True)
class LineageNode:
    look: Variant
    children: list[LineageNode] = field(default_factory=list)


def lineage(looks: list[Variant]) -> list[LineageNode]:
    """The looks as a forest: each under the look it was branched from. A look whose parent
    is not among them (deleted, or another story's) starts a tree of its own."""
    nodes = {look.id: LineageNode(look) for look in looks}
    roots = []
    for look in looks:
        parent = nodes.get(look.parent_id) if look.parent_id else None
        (parent.children if parent else roots).append(nodes[look.id])
    return roots


class ActorPages:
    def __init__(
        self,
        get_actor: GetActor,
        update_variant: UpdateVariant,
        delete_variant: DeleteVariant,
        cast_variant: CastVariant,
        delete_actor: DeleteActor,
    ) -> None:
        self._get_actor = get_actor
        self._update_variant = update_variant
        self._delete_variant = delete_variant
        self._cast_variant = cast_variant
        self._delete_actor = delete_actor

    def routes(self) -> list[web.RouteDef]:
        actor, look = (
            "/projects/{project}/actors/{actor}",
            "/projects/{project}/actors/{actor}/variants/{variant}",
        )
        return [
            web.get(actor, self.view),
            web.get(f"{actor}/delete", self.confirm_delete),
            web.post(f"{actor}/delete", self.delete),
            web.post(f"{look}/default", self._changing(self._make_default)),
            web.post(f"{look}/cast", self._changing(self._cast)),
            web.post(f"{look}/delete", self._changing(self._delete_look)),
        ]

    async def view(self, request: web.Request) -> web.Response:
        project = project_of(request)
        return await self._page(project, request.match_info["actor"], request.query.get("story", ""))

    async def confirm_delete(self, request: web.Request) -> web.Response:
        project = project_of(request)
        view = await self._get_actor(project, request.match_info["actor"])
        return render("delete_actor.html", project=project, actor=view.actor)

    async def delete(self, request: web.Request) -> web.Response:
        project = project_of(request)
        view = await self._get_actor(project, request.match_info["actor"])
        await self._delete_actor(project, view.actor.id)
        go_to(f"/projects/{project}/actors", deleted=view.actor.display_name)

    async def _make_default(self, project: str, actor: str, look: str, story: str | None) -> None:
        await self._update_variant(project, actor, look, VariantPatch(is_default=True))

    async def _cast(self, project: str, actor: str, look: str, story: str | None) -> None:
        if story is None:
            raise InvalidInput.field("story", "is required: pick a story first")
        await self._cast_variant(project, actor, look, story)

    async def _delete_look(self, project: str, actor: str, look: str, story: str | None) -> None:
        await self._delete_variant(project, actor, look)

    def _changing(self, change: LookChange) -> Handler:
        """A handler that makes one change to a look, then shows the actor again, in the story
        the form names (with the error in plain words, if the change failed)."""

        async def handler(request: web.Request) -> web.Response:
            project, form = project_of(request), await posted(request)
            actor, look = request.match_info["actor"], request.match_info["variant"]
            story_text = form.get("story", "").strip()
            try:
                await change(project, actor, look, story_id(project, story_text))
            except DomainError as error:
                return await self._page(project, actor, story_text, plain_words(error))
            go_to(f"/projects/{project}/actors/{actor}", story=story_text)

        return handler

    async def _page(
        self, project: str, actor_id: str, story_text: str, said: Said | None = None
    ) -> web.Response:
        try:
            story = story_id(project, story_text)
        except DomainError as error:
            story, said = None, plain_words(error)
        view = await self._get_actor(project, actor_id, story)
        actor = view.actor
        return render(
            "actor.html",
            status=said.status if said else 200,
            project=project,
            actor=actor,
            looks=view.variants,
            lineage=lineage(view.variants),
            story=story,
            story_text=story_text,
            cast_id=actor.casts.get(story) if story else None,
            stories=sorted(set(actor.casts) | {look.story for look in actor.variants if look.story}),
            error=said.message if said else None,
        )
