"""The actor repository: whole aggregates in a fixed number of queries, saved by sync.

`get` loads ORM rows, which save() then brings in line with the changed aggregate (and checks
the version they were read at); `read` and the lists, for calls that change nothing, go straight
to the tables (actor_reads.py)."""

from __future__ import annotations

import builtins

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.interfaces import LoaderOption

from casting.adapters.sql import actor_reads, mappers
from casting.adapters.sql.conflicts import conflicts_as_domain_errors
from casting.adapters.sql.models import (
    ActorRow,
    ReferenceImageRow,
    VariantImageRow,
    VariantRow,
)
from casting.adapters.sql.rows import write_staged
from casting.domain.errors import Conflict
from casting.domain.model import Actor
from casting.domain.pagination import PageRequest
from casting.domain.ports import ActorFilter

# One query per level, whatever the number of actors: actors, variants, each variant's image
# list (joined to its images), its reference image, and the casts.
_AGGREGATE: tuple[LoaderOption, ...] = (
    selectinload(ActorRow.variants).options(
        selectinload(VariantRow.images).joinedload(VariantImageRow.image, innerjoin=True),
        selectinload(VariantRow.reference_images).joinedload(ReferenceImageRow.image, innerjoin=True),
    ),
    selectinload(ActorRow.casts),
)


class SqlActorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        # The session's identity map holds clean rows weakly; these strong references keep
        # the rows (and the version they were read at) alive until the unit of work ends, so
        # that save() checks against the version this unit of work actually read.
        self._rows: dict[str, ActorRow] = {}
        # The actors this unit of work added, changed or deleted: their cached copies go stale
        # when it commits.
        self.changed: set[str] = set()
        # The actors it added or changed, as they are to be committed: their documents for
        # reads are rendered from these (actor_documents.py).
        self.kept: dict[str, Actor] = {}

    async def add(self, actor: Actor) -> None:
        row = ActorRow()
        mappers.write_actor(row, actor)
        self._session.add(row)
        self._rows[actor.id] = row
        self.changed.add(actor.id)
        self.kept[actor.id] = actor

    def kept_versions(self) -> builtins.list[tuple[Actor, int]]:
        """The actors this unit of work added or changed, each with its row's version (the
        one to be committed, once flushed)."""
        return [(actor, self._rows[actor_id].version) for actor_id, actor in self.kept.items()]

    async def get(self, project: str, actor_id: str, *, for_update: bool = False) -> Actor | None:
        query = _aggregates().where(ActorRow.id == actor_id, ActorRow.project == project)
        if for_update:
            # Lock the character row only; the children are read by their own queries. A locked
            # read must refresh a row this session already holds.
            query = query.with_for_update(of=ActorRow).execution_options(populate_existing=True)
        rows = await self._load(query)
        return mappers.actor_from_row(rows[0]) if rows else None

    async def read(self, project: str, actor_id: str) -> Actor | None:
        return await actor_reads.get(await self._connection(), project, actor_id)

    async def save(self, actor: Actor) -> None:
        row = await self._row(actor)
        if row is None:
            raise Conflict("the actor was deleted concurrently; retry the request")
        self.changed.add(actor.id)
        self.kept[actor.id] = actor
        async with conflicts_as_domain_errors():
            # Every save bumps the version, so a concurrent save of the same actor fails even
            # when only its variants changed.
            flag_modified(row, "update_time")
            # The partial unique index is checked row by row on PostgreSQL: the old default
            # must be cleared in an earlier statement than the new one is set.
            keep_default = {variant.id for variant in actor.variants if variant.is_default}
            for variant_row in row.variants:
                if variant_row.is_default and variant_row.id not in keep_default:
                    variant_row.is_default = False
            await self._session.flush()
        mappers.write_actor(row, actor)

    async def delete(self, actor: Actor) -> None:
        row = await self._row(actor)
        if row is not None:
            await self._session.delete(row)
            del self._rows[actor.id]
            self.changed.add(actor.id)
            self.kept.pop(actor.id, None)

    # `list` is a method of this class: annotations here spell the builtin `builtins.list`.
    async def list(self, project: str, where: ActorFilter, page: PageRequest) -> builtins.list[Actor]:
        return await actor_reads.list_actors(await self._connection(), project, where, page)

    async def list_cast(self, project: str, story: str, page: PageRequest) -> builtins.list[Actor]:
        return await actor_reads.list_cast(await self._connection(), project, story, page)

    async def _connection(self) -> AsyncConnection:
        """The session's connection, for reads that bypass the session, once the rows it has
        staged are written."""
        await write_staged(self._session)
        return await self._session.connection()

    async def _row(self, actor: Actor) -> ActorRow | None:
        """The row this unit of work read `actor` from, else the row as it is now."""
        if actor.id not in self._rows:
            await self._load(_aggregates().where(ActorRow.id == actor.id))
        return self._rows.get(actor.id)

    async def _load(self, query: Select[ActorRow]) -> builtins.list[ActorRow]:
        rows = list((await self._session.scalars(query)).all())
        self._rows.update((row.id, row) for row in rows)
        return rows


def _aggregates() -> Select[ActorRow]:
    return select(ActorRow).options(*_AGGREGATE)
