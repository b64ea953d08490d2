"""Rows that are only ever added, each written with one INSERT through the session.

Added to the session instead, a row is built as a mapped object, tracked, sorted into the
flush and written by the unit of work's machinery: for a generation's four rows (image, sheet,
charge, request id) that was most of the Python its database work cost. Through
`session.execute` the session still flushes what it holds first, so foreign keys keep their
order, and SQLite writers still take their turn (write_turns). A duplicate key fails here, as a
Conflict, rather than at the commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from casting.adapters.sql.conflicts import conflicts_as_domain_errors
from casting.adapters.sql.models import Base


def table_of(model: type[Base]) -> Table:
    """The table of a mapped class, for statements the session must not take for ORM ones: an
    INSERT on the class is an ORM bulk insert, which costs more than it saves."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def inserting(model: type[Base]) -> Insert:
    """The INSERT of one row of `model`'s table."""
    return insert(table_of(model))


async def insert_row(session: AsyncSession, statement: Insert, values: dict[str, Any]) -> None:
    async with conflicts_as_domain_errors():
        await session.execute(statement, values)
