"""Actors read straight from the tables, for calls that only read (GetActor, ListActors,
ListStoryCast): two Core statements a call, the actors with their casts, then their looks with
their images, mapped to domain objects without building ORM rows first (a page of 50 actors of
4 looks was ~900 of them, and most of the page's time)."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import BindParameter, Exists, Integer, Select, and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from casting.adapters.sql.mappers import IMAGE_COLUMNS, actor_from_columns, variant_from_columns
from casting.adapters.sql.models import (
    ActorRow,
    CastRow,
    ImageRow,
    ReferenceImageRow,
    VariantImageRow,
    VariantRow,
)
from casting.domain.model import Actor, Variant
from casting.domain.pagination import PageRequest
from casting.domain.ports import ActorFilter
from casting.domain.values import Image

_ESCAPE = "/"
_ACTORS = ActorRow.__table__
_CASTS = CastRow.__table__
_LOOKS = VariantRow.__table__
_REFERENCE_LINKS = ReferenceImageRow.__table__
_LINKS = VariantImageRow.__table__
_REFERENCES = ImageRow.__table__.alias("reference")
_IMAGES = ImageRow.__table__.alias("image")

# The aggregate's columns: the rendered documents are the read side's (actor_documents.py).
_ACTOR_COLUMNS = [c for c in _ACTORS.c if c.name not in ("document", "document_version")]
_LOOK_COLUMNS = [c for c in _LOOKS.c if c.name != "document"]

# A look's row: its columns, then its reference image's, then one of its own images'.
_REFERENCE_AT = len(_LOOK_COLUMNS)
_IMAGE_AT = _REFERENCE_AT + len(IMAGE_COLUMNS)
_LOOKS_WITH_IMAGES = (
    select(
        *_LOOK_COLUMNS,
        *(_REFERENCES.c[name].label(f"reference_{name}") for name in IMAGE_COLUMNS),
        *(_IMAGES.c[name].label(f"image_{name}") for name in IMAGE_COLUMNS),
    )
    .select_from(
        _LOOKS.outerjoin(
            # The reference is the first of a look's reference list, as the aggregate reads it.
            _REFERENCE_LINKS,
            and_(_REFERENCE_LINKS.c.variant_id == _LOOKS.c.id, _REFERENCE_LINKS.c.position == 0),
        )
        .outerjoin(_REFERENCES, _REFERENCES.c.id == _REFERENCE_LINKS.c.image_id)
        .outerjoin(_LINKS, _LINKS.c.variant_id == _LOOKS.c.id)
        .outerjoin(_IMAGES, _IMAGES.c.id == _LINKS.c.image_id)
    )
    .order_by(_LOOKS.c.create_time, _LOOKS.c.id, _LINKS.c.position)
)


def _with_casts(actors: Select[Any]) -> Select[Any]:
    """The actors `actors` selects (rows of characters), each with its casts, newest first."""
    chosen = actors.subquery("chosen")
    return (
        select(*chosen.c, _CASTS.c.story_id.label("cast_story"), _CASTS.c.variant_id.label("cast_variant"))
        .select_from(chosen.outerjoin(_CASTS, _CASTS.c.character_id == chosen.c.id))
        # A subquery's order is not kept: said again.
        .order_by(chosen.c.create_time.desc(), chosen.c.id.desc())
    )


# Built once: building a statement costs more than the rest of a GetActor's Python work.
_ONE_ACTOR = _with_casts(
    select(*_ACTOR_COLUMNS).where(
        _ACTORS.c.id == bindparam("actor_id"), _ACTORS.c.project == bindparam("project")
    )
)
_LOOKS_OF = _LOOKS_WITH_IMAGES.where(_LOOKS.c.character_id.in_(bindparam("actor_ids", expanding=True)))


async def get(connection: AsyncConnection, project: str, actor_id: str) -> Actor | None:
    actors = await _read(connection, _ONE_ACTOR, {"actor_id": actor_id, "project": project})
    return actors[0] if actors else None


async def list_actors(
    connection: AsyncConnection, project: str, where: ActorFilter, page: PageRequest
) -> list[Actor]:
    query = _with_casts(actors_page(page_shape(where, page)))
    return await _read(connection, query, page_parameters(project, where, page))


# Which parts a ListActors statement has: by display name, by prefix, by approval, by verdict
# (None, True or False: each a different condition), after a cursor.
PageShape = tuple[bool, bool, bool, bool | None, bool]


def page_shape(where: ActorFilter, page: PageRequest) -> PageShape:
    return (
        where.display_name is not None,
        where.display_name_prefix is not None,
        where.approved is not None,
        where.verified,
        page.after is not None,
    )


@functools.cache
def actors_page(shape: PageShape) -> Select[Any]:
    """A page of the project's actors that a filter of this shape lets through, as rows of
    characters, newest first: every value a parameter (page_parameters), so that each shape is
    built once (building a statement costs more than the rest of a read's Python work)."""
    by_name, by_prefix, by_approval, verified, after = shape
    query = select(*_ACTOR_COLUMNS).where(_ACTORS.c.project == bindparam("project"))
    if by_name:
        query = query.where(_ACTORS.c.display_name == bindparam("display_name"))
    if by_prefix:
        query = query.where(_ACTORS.c.display_name.startswith(bindparam("prefix"), escape=_ESCAPE))
    if by_approval:
        query = query.where(_ACTORS.c.approved == bindparam("approved"))
    if verified is not None:
        failed = _a_failed_look()
        query = query.where(~failed if verified else failed)
    return bound_page(query, after)


def page_parameters(project: str, where: ActorFilter, page: PageRequest) -> dict[str, Any]:
    """The values of an actors_page statement for this project, filter and page."""
    values: dict[str, Any] = {"project": project, **cursor_parameters(page)}
    if where.display_name is not None:
        values["display_name"] = where.display_name
    if where.display_name_prefix is not None:
        # Escaped: a name with % or _ is a literal prefix, not a pattern.
        prefix = where.display_name_prefix.replace(_ESCAPE, _ESCAPE * 2)
        values["prefix"] = prefix.replace("%", f"{_ESCAPE}%").replace("_", f"{_ESCAPE}_")
    if where.approved is not None:
        values["approved"] = where.approved
    return values


def bound_page(query: Select[Any], after: bool) -> Select[Any]:
    """`query` newest first, after a (create_time, id) cursor if `after`, up to a limit: the
    cursor and the limit bound parameters, whose values cursor_parameters gives, so that a
    statement built once serves every page."""
    if after:
        created, last_id = bindparam("after_time", type_=_ACTORS.c.create_time.type), bindparam("after_id")
        query = query.where(
            or_(
                _ACTORS.c.create_time < created,
                and_(_ACTORS.c.create_time == created, _ACTORS.c.id < last_id),
            )
        )
    return query.order_by(_ACTORS.c.create_time.desc(), _ACTORS.c.id.desc()).limit(
        bindparam("limit", type_=Integer)
    )


def cursor_parameters(page: PageRequest) -> dict[str, Any]:
    """The limit (one row more than the page, to tell if more follow) and cursor of a
    bound_page statement."""
    values: dict[str, Any] = {"limit": page.size + 1}
    if page.after is not None:
        values.update(after_time=page.after.create_time, after_id=page.after.id)
    return values


def _a_failed_look() -> Exists:
    """Whether the actor has a look the judge failed (judged: no unverified_reason; a look kept
    before judging has no verification document at all)."""
    verification = _LOOKS.c.verification
    return (
        select(_LOOKS.c.id)
        .where(
            _LOOKS.c.character_id == _ACTORS.c.id,
            verification["passed"].as_boolean().is_(False),
            verification["unverified_reason"].as_string() == "",
        )
        .exists()
    )


async def list_cast(connection: AsyncConnection, project: str, story: str, page: PageRequest) -> list[Actor]:
    query = _with_casts(bound_page(cast_query(project, story), page.after is not None))
    return await _read(connection, query, cursor_parameters(page))


async def read_many(connection: AsyncConnection, actor_ids: list[str]) -> list[Actor]:
    """The actors of these ids, newest first."""
    return await _read(connection, _with_casts(select(*_ACTOR_COLUMNS).where(_ACTORS.c.id.in_(actor_ids))))


def cast_query(project: str | BindParameter[str], story: str | BindParameter[str]) -> Select[Any]:
    """The project's actors cast in `story`, as rows of characters joined to their cast."""
    cast_in_story = and_(
        _CASTS.c.character_id == _ACTORS.c.id, _CASTS.c.project == project, _CASTS.c.story_id == story
    )
    return select(*_ACTOR_COLUMNS).join(_CASTS, cast_in_story).where(_ACTORS.c.project == project)


async def _read(
    connection: AsyncConnection, with_casts: Select[Any], parameters: dict[str, Any] | None = None
) -> list[Actor]:
    """The actors of `with_casts` (see _with_casts), in its order, each with its looks: one
    statement for the actors and their casts, one for the looks and their images."""
    rows = (await connection.execute(with_casts, parameters)).all()
    if not rows:
        return []
    heads: dict[str, Any] = {}
    casts: dict[str, dict[str, str]] = {}
    for row in rows:
        heads.setdefault(row.id, row)
        story_casts = casts.setdefault(row.id, {})
        if row.cast_story is not None:
            story_casts[row.cast_story] = row.cast_variant
    looks = await _looks(connection, list(heads))
    return [
        actor_from_columns(row, looks.get(actor_id, []), casts[actor_id]) for actor_id, row in heads.items()
    ]


async def _looks(connection: AsyncConnection, actor_ids: list[str]) -> dict[str, list[Variant]]:
    """Each actor's looks, oldest first, with their reference image and own images in order."""
    result = await connection.execute(_LOOKS_OF, {"actor_ids": actor_ids})
    looks: dict[str, list[Variant]] = {}
    look: Variant | None = None
    for row in result:
        if look is None or look.id != row.id:
            reference = Image(*row[_REFERENCE_AT:_IMAGE_AT]) if row.reference_id is not None else None
            look = variant_from_columns(row, reference, [])
            looks.setdefault(look.actor_id, []).append(look)
        if row.image_id is not None:
            look.images.append(Image(*row[_IMAGE_AT:]))
    return looks
