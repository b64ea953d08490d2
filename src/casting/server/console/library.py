"""The library grid: every actor of the project with its default sheet, paged, by name, or only
those with a look that failed verification."""

from __future__ import annotations

from aiohttp import web

from casting.domain.errors import InvalidInput
from casting.domain.usecases.actors import ListActors
from casting.domain.usecases.views import ActorPage
from casting.server.console.forms import name_filter
from casting.server.console.handling import project_of, whole_number, with_query
from casting.server.console.rendering import render
from casting.server.console.words import plain_words

PAGE_SIZE = 24  # four rows of six cards on a laptop screen


class LibraryPages:
    def __init__(self, list_actors: ListActors) -> None:
        self._list_actors = list_actors

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/projects/{project}/actors", self.library)]

    async def library(self, request: web.Request) -> web.Response:
        project = project_of(request)
        prefix = request.query.get("name", "").strip()
        failed = request.query.get("failed", "") == "1"
        size = whole_number(request.query, "page_size", PAGE_SIZE)
        error = None
        try:
            page = await self._list_actors(
                project,
                size,
                request.query.get("page_token", ""),
                " AND ".join(
                    term for term in (name_filter(prefix), "verified=false" if failed else "") if term
                ),
            )
        except InvalidInput as invalid:  # a stale page token, an over-long name
            page, error = ActorPage([], ""), plain_words(invalid).message
        kept = {
            "name": prefix,
            "failed": "1" if failed else "",
            "page_size": str(size) if size != PAGE_SIZE else "",
        }
        path = request.path
        return render(
            "library.html",
            project=project,
            page=page,
            name=prefix,
            failed=failed,
            error=error,
            deleted=request.query.get("deleted", ""),
            first_page=with_query(path, **kept) if "page_token" in request.query else None,
            next_page=with_query(path, **kept, page_token=page.next_page_token)
            if page.next_page_token
            else None,
        )
