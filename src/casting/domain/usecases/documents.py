"""The library's reads as the API answers them: the actors' documents (domain.documents), read
from the read side. The console and the commands read aggregates (actors.py, cast.py)."""

from __future__ import annotations

from casting.domain import names
from casting.domain.documents import ActorDocument, CastDocument
from casting.domain.errors import NotFound
from casting.domain.pagination import Cursor, split_page
from casting.domain.ports import ActorCache, ActorDocuments
from casting.domain.usecases.actors import actor_page
from casting.domain.usecases.cast import cast_page


def _cursor(document: ActorDocument | CastDocument) -> Cursor:
    return Cursor(document.create_time, document.id)


class GetActorDocument:
    def __init__(self, documents: ActorDocuments, recent: ActorCache[ActorDocument]) -> None:
        self._documents = documents
        self._recent = recent

    async def __call__(self, project: str, actor_id: str) -> ActorDocument:
        """The actor's documents: its global looks in `actor`, a story's in `story_looks(story)`."""

        async def load() -> ActorDocument:
            document = await self._documents.get(project, actor_id)
            if document is None:
                raise NotFound("actor", names.actor(project, actor_id))
            return document

        return await self._recent.get(project, actor_id, load)


class ListActorDocuments:
    def __init__(self, documents: ActorDocuments) -> None:
        self._documents = documents

    async def __call__(
        self, project: str, page_size: int, page_token: str, filter_text: str
    ) -> tuple[list[ActorDocument], str]:
        """A page of the project's actors, newest first, and the next page's token."""
        where, page, query = actor_page(project, page_size, page_token, filter_text)
        rows = await self._documents.list(project, where, page)
        return split_page(rows, page, query, _cursor)


class ListCastDocuments:
    def __init__(self, documents: ActorDocuments) -> None:
        self._documents = documents

    async def __call__(
        self, project: str, story: str, page_size: int, page_token: str
    ) -> tuple[list[CastDocument], str]:
        """The actors cast in the story with their look there, newest actor first."""
        page, query = cast_page(project, story, page_size, page_token)
        rows = await self._documents.list_cast(project, story, page)
        return split_page(rows, page, query, _cursor)
