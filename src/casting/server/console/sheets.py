"""A new actor from a description: the generation form, the preview sheet, save or discard."""

from __future__ import annotations

from aiohttp import web

from casting.domain.errors import DomainError
from casting.domain.usecases.actors import SaveActor, SaveActorCommand
from casting.domain.usecases.candidates import (
    GenerateSheet,
    GenerateSheetCommand,
    GenerateSheets,
    GenerateSheetsCommand,
)
from casting.domain.usecases.sheets import GetSheet
from casting.domain.usecases.styles import ListStyles
from casting.server.console.candidates import candidate_count, draw_candidates
from casting.server.console.forms import trait_values, traits_from
from casting.server.console.handling import go_to, posted, project_of
from casting.server.console.rendering import form_page
from casting.server.console.words import Said, plain_words


class SheetPages:
    def __init__(
        self,
        list_styles: ListStyles,
        generate_sheet: GenerateSheet,
        generate_sheets: GenerateSheets,
        get_sheet: GetSheet,
        save_actor: SaveActor,
    ) -> None:
        self._list_styles = list_styles
        self._generate_sheet = generate_sheet
        self._generate_sheets = generate_sheets
        self._get_sheet = get_sheet
        self._save_actor = save_actor

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/projects/{project}/generate", self.form),
            web.post("/projects/{project}/generate", self.generate),
            web.get("/projects/{project}/sheets/{sheet}", self.preview),
            web.post("/projects/{project}/sheets/{sheet}", self.save),
        ]

    async def form(self, request: web.Request) -> web.Response:
        """The form, filled from the query when a discarded preview sends the person back."""
        return await self._form(project_of(request), dict(request.query))

    async def generate(self, request: web.Request) -> web.Response:
        project, form = project_of(request), await posted(request)
        try:
            if (count := candidate_count(form)) > 1:
                await draw_candidates(
                    self._generate_sheets,
                    GenerateSheetsCommand(
                        project=project,
                        story_style=form.get("story_style", ""),
                        image_style=form.get("image_style", ""),
                        traits=traits_from(form),
                        candidate_count=count,
                        request_id=form.get("request_id", ""),
                    ),
                )
            sheet = await self._generate_sheet(
                GenerateSheetCommand(
                    project=project,
                    story_style=form.get("story_style", ""),
                    image_style=form.get("image_style", ""),
                    traits=traits_from(form),
                    request_id=form.get("request_id", ""),
                )
            )
        except DomainError as error:
            return await self._form(project, form, plain_words(error))
        go_to(f"/projects/{project}/sheets/{sheet.id}")

    async def preview(self, request: web.Request) -> web.Response:
        return await self._preview(project_of(request), request.match_info["sheet"], {})

    async def save(self, request: web.Request) -> web.Response:
        project, sheet_id, form = project_of(request), request.match_info["sheet"], await posted(request)
        try:
            view = await self._save_actor(
                SaveActorCommand(
                    project=project,
                    sheet_id=sheet_id,
                    display_name=form.get("display_name", "").strip(),
                    description=form.get("description", "").strip(),
                    request_id=form.get("request_id", ""),
                )
            )
        except DomainError as error:
            return await self._preview(project, sheet_id, form, plain_words(error))
        go_to(f"/projects/{project}/actors/{view.actor.id}")

    async def _form(self, project: str, values: dict[str, str], said: Said | None = None) -> web.Response:
        return await form_page("generate.html", self._list_styles, said, project=project, values=values)

    async def _preview(
        self, project: str, sheet_id: str, values: dict[str, str], said: Said | None = None
    ) -> web.Response:
        sheet = await self._get_sheet(project, sheet_id)
        again = trait_values(sheet.traits) | {
            "story_style": sheet.story_style,
            "image_style": sheet.image_style,
        }
        return await form_page(
            "sheet.html", self._list_styles, said, project=project, sheet=sheet, values=values, again=again
        )
