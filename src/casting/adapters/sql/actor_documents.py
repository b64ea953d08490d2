"""The read side of the library (domain.ports.ActorDocuments): actors as the documents they
were rendered to when saved, each read in one statement and answered without rebuilding an
aggregate. A document is good while its actor's version is the one it was rendered at; an
actor saved without rendering (by an older release, or before the documents existed) is read
as an aggregate and rendered then (actor_reads.py), never answered stale."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from casting.adapters.sql import actor_reads
from casting.adapters.sql.conflicts import outages_as_domain_errors
from casting.adapters.sql.direct_reads import DirectReads
from casting.adapters.sql.disconnects import read_on
from casting.adapters.sql.engine import for_reads
from casting.adapters.sql.models import ActorRow, CastRow, VariantRow
from casting.domain.documents import ActorDocument, CastDocument, LookDocument
from casting.domain.model import Actor
from casting.domain.pagination import PageRequest
from casting.domain.ports import ActorFilter, ActorRenderer

_ACTORS = ActorRow.__table__
_LOOKS = VariantRow.__table__
_CASTS = CastRow.__table__

# NULL, not true, for an actor never rendered.
_FRESH = (_ACTORS.c.document_version == _ACTORS.c.version).label("fresh")
_HEAD = (_ACTORS.c.id, _ACTORS.c.create_time, _ACTORS.c.document, _FRESH)
_LOOK = (_LOOKS.c.id.label("look_id"), _LOOKS.c.story_id, _LOOKS.c.document.label("look"))

# An actor with its story-scoped looks (its global ones are in its own document).
_ONE_ACTOR = (
    select(*_HEAD, *_LOOK)
    .select_from(
        _ACTORS.outerjoin(_LOOKS, and_(_LOOKS.c.character_id == _ACTORS.c.id, _LOOKS.c.story_id.is_not(None)))
    )
    .where(_ACTORS.c.id == bindparam("actor_id"), _ACTORS.c.project == bindparam("project"))
    .order_by(_LOOKS.c.create_time, _LOOKS.c.id)
)


def _cast_page(after: bool) -> Select[Any]:
    """A page of a story's cast, each actor with its look there: built once (building it cost
    a fifth of the call), the first page and the pages after a cursor."""
    cast = actor_reads.cast_query(bindparam("project"), bindparam("story"))
    return (
        actor_reads.bound_page(cast, after)
        .join(_LOOKS, _LOOKS.c.id == _CASTS.c.variant_id)
        .with_only_columns(*_HEAD, _ACTORS.c.display_name, *_LOOK)
    )


_CAST_PAGES = {after: _cast_page(after) for after in (False, True)}


@functools.cache
def _actors_page(shape: actor_reads.PageShape) -> Select[Any]:
    """A page of actors' documents, built once for each shape of ListActors' filter."""
    return actor_reads.actors_page(shape).with_only_columns(*_HEAD)


# Each only while the actor is still at the version the documents were rendered from: a save
# that won meanwhile keeps its own.
_RENDER_ACTOR = (
    update(_ACTORS)
    .where(_ACTORS.c.id == bindparam("actor_id"), _ACTORS.c.version == bindparam("rendered_at"))
    .values(document=bindparam("head"), document_version=bindparam("rendered_at"))
)
_RENDER_LOOK = (
    update(_LOOKS)
    .where(
        _LOOKS.c.id == bindparam("look_id"),
        select(_ACTORS.c.version).where(_ACTORS.c.id == _LOOKS.c.character_id).scalar_subquery()
        == bindparam("rendered_at"),
    )
    .values(document=bindparam("look"))
)
_BEHIND = (
    select(_ACTORS.c.id, _ACTORS.c.version)
    .where(
        _ACTORS.c.id > bindparam("after"),
        or_(_ACTORS.c.document_version.is_(None), _ACTORS.c.document_version != _ACTORS.c.version),
    )
    .order_by(_ACTORS.c.id)
    .limit(bindparam("batch"))
)


async def write_documents(connection: AsyncConnection, rendered: Iterable[tuple[ActorDocument, int]]) -> None:
    """Stores actors' documents, each rendered from the actor at the version given: two
    statements, however many actors and looks."""
    rendered = list(rendered)
    if not rendered:
        return
    await connection.execute(
        _RENDER_ACTOR, [{"actor_id": d.id, "head": d.actor, "rendered_at": at} for d, at in rendered]
    )
    looks = [
        {"look_id": look.id, "look": look.document, "rendered_at": at}
        for d, at in rendered
        for look in d.looks
    ]
    await connection.execute(_RENDER_LOOK, looks)


class SqlActorDocuments:
    """Documents are read straight on the driver (`direct`), each statement built once; an
    actor whose documents are behind is read as an aggregate through the engine."""

    def __init__(self, engine: AsyncEngine, direct: DirectReads, render: ActorRenderer) -> None:
        self._engine = engine
        self._reads = for_reads(engine)
        self._direct = direct
        self._render = render

    async def get(self, project: str, actor_id: str) -> ActorDocument | None:
        rows = await self._direct.fetch(_ONE_ACTOR, {"actor_id": actor_id, "project": project})
        if not rows:
            return None
        head = rows[0]
        looks = [row for row in rows if row.look_id is not None]
        if _rendered(head, looks):
            return _document(project, head, looks)
        return (await self._rendered_now([actor_id])).get(actor_id)

    async def list(self, project: str, where: ActorFilter, page: PageRequest) -> list[ActorDocument]:
        heads = await self._direct.fetch(
            _actors_page(actor_reads.page_shape(where, page)),
            actor_reads.page_parameters(project, where, page),
        )
        behind = [head.id for head in heads if not head.fresh]
        rendered = await self._rendered_now(behind)
        return [rendered.get(head.id) or _document(project, head, ()) for head in heads]

    async def list_cast(self, project: str, story: str, page: PageRequest) -> list[CastDocument]:
        parameters = {"project": project, "story": story, **actor_reads.cursor_parameters(page)}
        members = await self._direct.fetch(_CAST_PAGES[page.after is not None], parameters)
        behind = [member.id for member in members if not _rendered(member, [member])]
        rendered = await self._rendered_now(behind)
        return [
            CastDocument(
                project=project,
                id=member.id,
                create_time=member.create_time,
                display_name=member.display_name,
                look=_look_of(rendered[member.id], member.look_id) if member.id in rendered else member.look,
            )
            for member in members
        ]

    async def render_behind(self, batch: int = 500) -> int:
        """Renders every actor whose documents are behind its rows (saved before documents
        existed, or by an older release), so that reads need not; returns how many."""
        rendered, after = 0, ""
        while True:
            async with outages_as_domain_errors(), self._engine.begin() as connection:
                behind = (await connection.execute(_BEHIND, {"after": after, "batch": batch})).all()
                if not behind:
                    return rendered
                # Read after their versions: an actor saved in between is newer than the version
                # seen, and its documents are then left to that save.
                seen = {row.id: row.version for row in behind}
                actors = await actor_reads.read_many(connection, list(seen))
                await write_documents(connection, ((self._render(a), seen[a.id]) for a in actors))
            rendered += len(actors)
            after = behind[-1].id

    async def _rendered_now(self, actor_ids: list[str]) -> dict[str, ActorDocument]:
        """The actors of these ids, read as aggregates through the engine and rendered (their
        documents are behind); the read runs again if the database had dropped its connection."""
        if not actor_ids:
            return {}

        async def read(connection: AsyncConnection) -> list[Actor]:
            return await actor_reads.read_many(connection, actor_ids)

        async with outages_as_domain_errors():
            actors = await read_on(self._reads, read)
        return {actor.id: self._render(actor) for actor in actors}


def _rendered(head: Any, looks: Iterable[Any]) -> bool:
    """Whether the actor's documents are as new as its rows."""
    return bool(head.fresh) and all(look[-1] is not None for look in looks)


def _document(project: str, head: Any, looks: Iterable[Any]) -> ActorDocument:
    return ActorDocument(
        project=project,
        id=head.id,
        create_time=head.create_time,
        actor=head.document,
        # Every look row ends with the columns of _LOOK.
        looks=tuple(LookDocument(*look[-3:]) for look in looks),
    )


def _look_of(document: ActorDocument, look_id: str) -> bytes:
    return next(look.document for look in document.looks if look.id == look_id)
