"""The SQL unit of work: one AsyncSession, one transaction, per use-case call."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from casting.adapters.recent_actors import RecentActors
from casting.adapters.sql.actors import SqlActorRepository
from casting.adapters.sql.conflicts import conflicts_as_domain_errors, unavailable
from casting.adapters.sql.idempotency import SqlIdempotencyRepository
from casting.adapters.sql.images import SqlImageRepository
from casting.adapters.sql.ledger import SqlLedgerRepository
from casting.adapters.sql.operations import SqlOperationRepository
from casting.adapters.sql.sheets import SqlSheetRepository
from casting.adapters.sql.thumbnails import SqlThumbnailRepository


class SqlUnitOfWork:
    """Implements domain.ports.UnitOfWork. Cheap to create: the session opens on entry, so
    one instance per use-case call (or one reused sequentially) is fine; never share one
    between concurrent calls. A database out of reach anywhere in the block (commit included)
    leaves it as StorageUnavailable. A commit drops the actors it changed from `recent`."""

    actors: SqlActorRepository
    sheets: SqlSheetRepository
    images: SqlImageRepository
    idempotency: SqlIdempotencyRepository
    thumbnails: SqlThumbnailRepository
    operations: SqlOperationRepository
    ledger: SqlLedgerRepository

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], recent: RecentActors | None = None
    ) -> None:
        self._session_factory = session_factory
        self._recent = recent
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> Self:
        # The session takes a connection only when first used; a pool that has none left
        # surfaces there, inside the block, and __aexit__ translates it.
        session = self._session_factory()
        self._session = session
        self.actors = SqlActorRepository(session)
        self.sheets = SqlSheetRepository(session)
        self.images = SqlImageRepository(session)
        self.idempotency = SqlIdempotencyRepository(session)
        self.thumbnails = SqlThumbnailRepository(session)
        self.operations = SqlOperationRepository(session)
        self.ledger = SqlLedgerRepository(session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self._active(), None
        # close() rolls back what was not committed and lets go of the rows; a rollback() first
        # would also expire every row one by one, which is most of what a read of a page cost.
        await session.close()
        if exc is not None and (outage := unavailable(exc)) is not None:
            raise outage from exc

    async def commit(self) -> None:
        try:
            async with conflicts_as_domain_errors():
                await self._active().commit()
        finally:
            # Also when the commit failed: whether it took effect is then unknown.
            if self._recent is not None and self.actors.changed:
                self._recent.forget(self.actors.changed)

    async def rollback(self) -> None:
        await self._active().rollback()

    def _active(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is used outside its `async with` block")
        return self._session
