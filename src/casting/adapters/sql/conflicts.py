"""Which database failures callers should hear about, as domain errors: a concurrent change
that won (Conflict), and a database out of reach for now (StorageUnavailable)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError

from casting.domain.errors import Conflict, StorageUnavailable

# PostgreSQL's serialization failure and deadlock: the transaction lost a race and may retry.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
# PostgreSQL's statement timeout or cancel, too many connections, and shutting down.
UNAVAILABLE_SQLSTATES = frozenset({"57014", "53300", "57P01", "57P03"})


def is_conflict(error: Exception) -> bool:
    if isinstance(error, IntegrityError | StaleDataError):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if getattr(error.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES:
        return True
    # SQLite refuses a writer while another holds the lock, once its busy timeout has passed.
    return "database is locked" in str(error.orig)


def unavailable(error: BaseException) -> StorageUnavailable | None:
    """The domain error for a database that is out of reach for now, or None for other failures."""
    if isinstance(error, PoolTimeout) or (
        isinstance(error, DBAPIError)
        and (error.connection_invalidated or getattr(error.orig, "sqlstate", None) in UNAVAILABLE_SQLSTATES)
    ):
        return database_unavailable()
    return None


def database_unavailable() -> StorageUnavailable:
    """What callers hear when the database is out of reach for now."""
    return StorageUnavailable("the database is unavailable; retry the request later")


@asynccontextmanager
async def outages_as_domain_errors() -> AsyncIterator[None]:
    """Raises StorageUnavailable for a database out of reach in the block."""
    try:
        yield
    except Exception as error:
        if (outage := unavailable(error)) is not None:
            raise outage from error
        raise


def conflicts_as_domain_errors() -> ConflictsAsDomainErrors:
    """Raises Conflict, with a message fit for callers, for a lost race in the block: `async
    with` it, or `with` it in code that runs synchronously (session events)."""
    return ConflictsAsDomainErrors()


class ConflictsAsDomainErrors:
    def __enter__(self) -> None:
        return None

    def __exit__(self, _type: object, error: BaseException | None, _tb: object) -> None:
        if isinstance(error, DBAPIError | StaleDataError) and is_conflict(error):
            raise Conflict("the resource was changed concurrently; retry the request") from error

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, _type: object, error: BaseException | None, _tb: object) -> None:
        self.__exit__(_type, error, _tb)
