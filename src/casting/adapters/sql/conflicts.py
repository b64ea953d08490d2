"""Which database failures mean "a concurrent change won", and their translation to Conflict."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from casting.domain.errors import Conflict

# PostgreSQL's serialization failure and deadlock: the transaction lost a race and may retry.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


def is_conflict(error: Exception) -> bool:
    if isinstance(error, IntegrityError | StaleDataError):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if getattr(error.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES:
        return True
    # SQLite refuses a writer while another holds the lock, once its busy timeout has passed.
    return "database is locked" in str(error.orig)


@asynccontextmanager
async def conflicts_as_domain_errors() -> AsyncIterator[None]:
    """Raises Conflict, with a message fit for callers, for a lost race in the block."""
    try:
        yield
    except (DBAPIError, StaleDataError) as error:
        if not is_conflict(error):
            raise
        raise Conflict("the resource was changed concurrently; retry the request") from error
