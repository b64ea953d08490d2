"""A new actor from a picture the person already has: the import form (multipart upload)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from casting.domain.errors import DomainError
from casting.domain.usecases.actors import ImportActor, ImportActorCommand
from casting.domain.usecases.styles import ListStyles
from casting.server.console.forms import traits_from
from casting.server.console.handling import go_to, project_of
from casting.server.console.rendering import form_page
from casting.server.console.words import Said, plain_words


class ImportPages:
    def __init__(self, list_styles: ListStyles, import_actor: ImportActor) -> None:
        self._list_styles = list_styles
        self._import_actor = import_actor

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/projects/{project}/import", self.form),
            web.post("/projects/{project}/import", self.upload),
        ]

    async def form(self, request: web.Request) -> web.Response:
        return await self._form(project_of(request), {})

    async def upload(self, request: web.Request) -> web.Response:
        project, form = project_of(request), await request.post()
        values = {name: value for name, value in form.items() if isinstance(value, str)}
        picture = form.get("picture")
        # The picture is judged by its content, not by the type the browser guessed from its name.
        content = await asyncio.to_thread(picture.file.read) if isinstance(picture, web.FileField) else b""
        try:
            view = await self._import_actor(
                ImportActorCommand(
                    project=project,
                    image_content=content,
                    display_name=values.get("display_name", "").strip(),
                    description=values.get("description", "").strip(),
                    traits=traits_from(values),
                    story_style=values.get("story_style", ""),
                    image_style=values.get("image_style", ""),
                    request_id=values.get("request_id", ""),
                )
            )
        except DomainError as error:
            return await self._form(project, values, plain_words(error))
        go_to(f"/projects/{project}/actors/{view.actor.id}")

    async def _form(self, project: str, values: dict[str, str], said: Said | None = None) -> web.Response:
        return await form_page("import.html", self._list_styles, said, project=project, values=values)
