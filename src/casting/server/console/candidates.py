"""Candidates to choose from: several sheets side by side with their verdicts, picked as a new
actor (SaveActor, the sheet pages' save) or as a new look (BranchVariant with the sheet), or
drawn again ("Regenerate": the same request under a new request id)."""

from __future__ import annotations

from aiohttp import web

from casting.domain.errors import DomainError, InvalidInput
from casting.domain.model import Sheet
from casting.domain.usecases.actors import GetActor
from casting.domain.usecases.candidates import MAX_CANDIDATES, GenerateSheets, GenerateSheetsCommand
from casting.domain.usecases.sheets import GetSheet
from casting.domain.usecases.styles import ListStyles
from casting.domain.usecases.variants import BranchVariant, BranchVariantCommand
from casting.server.console.forms import Form, trait_values
from casting.server.console.handling import go_to, posted, project_of, whole_number
from casting.server.console.rendering import form_page
from casting.server.console.words import Said, plain_words


def candidate_count(form: Form) -> int:
    count = whole_number(form, "candidate_count", 1)
    if not 1 <= count <= MAX_CANDIDATES:
        raise InvalidInput.field("candidate_count", f"must be between 1 and {MAX_CANDIDATES}")
    return count


async def draw_candidates(generate: GenerateSheets, command: GenerateSheetsCommand) -> None:
    """Draws the candidates and goes to the page that shows them side by side."""
    sheets = await generate(command)
    go_to(f"/projects/{command.project}/candidates", sheets=",".join(s.id for s in sheets))


class CandidatePages:
    def __init__(
        self,
        list_styles: ListStyles,
        get_sheet: GetSheet,
        get_actor: GetActor,
        branch_variant: BranchVariant,
    ) -> None:
        self._list_styles = list_styles
        self._get_sheet = get_sheet
        self._get_actor = get_actor
        self._branch_variant = branch_variant

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/projects/{project}/candidates", self.page),
            web.post("/projects/{project}/actors/{actor}/commit", self.commit),
        ]

    async def page(self, request: web.Request) -> web.Response:
        ids = [i for i in request.query.get("sheets", "").split(",") if i][:MAX_CANDIDATES]
        return await self._page(project_of(request), ids)

    async def commit(self, request: web.Request) -> web.Response:
        """The derived preview the artist picked becomes the actor's new look."""
        project, actor_id, form = project_of(request), request.match_info["actor"], await posted(request)
        try:
            view = await self._branch_variant(
                BranchVariantCommand(
                    project=project,
                    actor_id=actor_id,
                    base_variant_id=form.get("base", ""),
                    display_name=form.get("display_name", "").strip(),
                    sheet_id=form.get("sheet", ""),
                    request_id=form.get("request_id", ""),
                )
            )
        except DomainError as error:
            return await self._page(project, [form.get("sheet", "")], plain_words(error))
        go_to(f"/projects/{project}/actors/{actor_id}/variants/{view.variant.id}")

    async def _page(self, project: str, ids: list[str], said: Said | None = None) -> web.Response:
        sheets = [await self._get_sheet(project, sheet_id) for sheet_id in ids]
        base = next((s.base for s in sheets if s.base), None)
        actor = (await self._get_actor(project, base.actor_id, None)).actor if base else None
        return await form_page(
            "candidates.html",
            self._list_styles,
            said,
            project=project,
            sheets=sheets,
            actor=actor,
            again_action=(
                f"/projects/{project}/actors/{actor.id}/branch" if actor else f"/projects/{project}/generate"
            ),
            again=_asked(sheets[0]) if sheets else {},
        )


def _asked(sheet: Sheet) -> dict[str, str]:
    """The form fields that ask for `sheet` again: its description, or its base and changes."""
    if sheet.base is None:
        return trait_values(sheet.traits) | {
            "story_style": sheet.story_style,
            "image_style": sheet.image_style,
        }
    return trait_values(sheet.base.trait_changes) | {
        "base": sheet.base.variant_id,
        "story": sheet.base.story or "",
        "story_style": sheet.story_style,
        "image_style": sheet.image_style,
    }
