"""Casting looks into stories, and what the story pipeline asks: who is cast, in which look."""

from __future__ import annotations

from collections.abc import Callable

from casting.domain.pagination import PageRequest, page_request, split_page
from casting.domain.ports import Clock, UnitOfWork
from casting.domain.usecases.actors import actor_cursor, load_actor
from casting.domain.usecases.views import CastPage, VariantView


class CastVariant:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, project: str, actor_id: str, variant_id: str, story: str) -> VariantView:
        """Makes the look the actor's one active look in `story`."""
        async with self._uow() as uow:
            actor = await load_actor(uow, project, actor_id, for_update=True)
            look = actor.cast(variant_id, story, self._clock.now())
            await uow.actors.save(actor)
            await uow.commit()
        return VariantView(actor, look)


def cast_page(project: str, story: str, page_size: int, page_token: str) -> tuple[PageRequest, str]:
    """ListStoryCast's page, and the query its page tokens are bound to."""
    query = f"cast|{project}|{story}"
    return page_request(page_size, page_token, query), query


class ListStoryCast:
    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def __call__(self, project: str, story: str, page_size: int, page_token: str) -> CastPage:
        """The active look of each actor cast in the story, newest actor first."""
        page, query = cast_page(project, story, page_size, page_token)
        async with self._uow() as uow:
            rows = await uow.actors.list_cast(project, story, page)
        actors, token = split_page(rows, page, query, actor_cursor)
        return CastPage([VariantView(a, a.variant(a.casts[story])) for a in actors], token)
