"""New looks: the branch panel (a base look and what changes) and a look beside its parent."""

from __future__ import annotations

from aiohttp import web

from casting.domain.errors import DomainError
from casting.domain.usecases.actors import GetActor
from casting.domain.usecases.candidates import GenerateSheets, GenerateSheetsCommand
from casting.domain.usecases.styles import ListStyles
from casting.domain.usecases.variants import BranchVariant, BranchVariantCommand, GetVariant
from casting.server.console.candidates import candidate_count, draw_candidates
from casting.server.console.forms import changes_from, story_id
from casting.server.console.handling import go_to, posted, project_of
from casting.server.console.rendering import form_page, render, style_names
from casting.server.console.words import Said, plain_words


class LookPages:
    def __init__(
        self,
        list_styles: ListStyles,
        get_actor: GetActor,
        get_variant: GetVariant,
        branch_variant: BranchVariant,
        generate_sheets: GenerateSheets,
    ) -> None:
        self._list_styles = list_styles
        self._get_actor = get_actor
        self._get_variant = get_variant
        self._branch_variant = branch_variant
        self._generate_sheets = generate_sheets

    def routes(self) -> list[web.RouteDef]:
        actor = "/projects/{project}/actors/{actor}"
        return [
            web.get(f"{actor}/branch", self.panel),
            web.post(f"{actor}/branch", self.branch),
            web.get(f"{actor}/variants/{{variant}}", self.look),
        ]

    async def panel(self, request: web.Request) -> web.Response:
        """The branch panel; the query may pick the base look and the story."""
        return await self._panel(project_of(request), request.match_info["actor"], dict(request.query))

    async def branch(self, request: web.Request) -> web.Response:
        project, actor_id, form = project_of(request), request.match_info["actor"], await posted(request)
        try:
            if (count := candidate_count(form)) > 1:
                # Previews to choose from; the one picked becomes the look (CandidatePages).
                await draw_candidates(
                    self._generate_sheets,
                    GenerateSheetsCommand(
                        project=project,
                        story_style=form.get("story_style", ""),
                        image_style=form.get("image_style", ""),
                        base_actor_id=actor_id,
                        base_variant_id=form.get("base", ""),
                        trait_changes=changes_from(form),
                        story=story_id(project, form.get("story", "")),
                        candidate_count=count,
                        request_id=form.get("request_id", ""),
                    ),
                )
            view = await self._branch_variant(
                BranchVariantCommand(
                    project=project,
                    actor_id=actor_id,
                    base_variant_id=form.get("base", ""),
                    display_name=form.get("display_name", "").strip(),
                    story_style=form.get("story_style", ""),
                    image_style=form.get("image_style", ""),
                    trait_changes=changes_from(form),
                    story=story_id(project, form.get("story", "")),
                    request_id=form.get("request_id", ""),
                )
            )
        except DomainError as error:
            return await self._panel(project, actor_id, form, plain_words(error))
        go_to(f"/projects/{project}/actors/{actor_id}/variants/{view.variant.id}")

    async def look(self, request: web.Request) -> web.Response:
        """A look beside the look it was branched from, with what changed."""
        project = project_of(request)
        view = await self._get_variant(project, request.match_info["actor"], request.match_info["variant"])
        look = view.variant
        parent = next((v for v in view.actor.variants if v.id == look.parent_id), None)
        return render(
            "look.html",
            project=project,
            actor=view.actor,
            look=look,
            parent=parent,
            styles=await style_names(self._list_styles),
        )

    async def _panel(
        self, project: str, actor_id: str, values: dict[str, str], said: Said | None = None
    ) -> web.Response:
        try:
            story = story_id(project, values.get("story", ""))
        except DomainError as error:
            story, said = None, plain_words(error)
        view = await self._get_actor(project, actor_id, story)
        return await form_page(
            "branch.html",
            self._list_styles,
            said,
            project=project,
            actor=view.actor,
            looks=view.variants,
            base=values.get("base") or view.actor.default_variant.id,
            values=values,
        )
