"""The SQL unit of work: one AsyncSession, one transaction, per use-case call."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from casting.adapters.recent_actors import RecentActors
from casting.adapters.sql.actor_documents import write_documents
from casting.adapters.sql.actors import SqlActorRepository
from casting.adapters.sql.conflicts import conflicts_as_domain_errors, unavailable
from casting.adapters.sql.engine import for_reads
from casting.adapters.sql.group_commit import GroupCommit
from casting.adapters.sql.idempotency import SqlIdempotencyRepository
from casting.adapters.sql.images import SqlImageRepository
from casting.adapters.sql.ledger import SqlLedgerRepository
from casting.adapters.sql.operations import SqlOperationRepository
from casting.adapters.sql.rows import discard_staged, take_staged, write_staged, write_together, writes_alone
from casting.adapters.sql.sheets import SqlSheetRepository
from casting.adapters.sql.thumbnails import SqlThumbnailRepository
from casting.domain.ports import ActorRenderer


class SqlUnitOfWork:
    """Implements domain.ports.UnitOfWork. Cheap to create: the session opens on entry, so
    one instance per use-case call (or one reused sequentially) is fine; never share one
    between concurrent calls. A database out of reach anywhere in the block (commit included)
    leaves it as StorageUnavailable. A commit renders the actors it adds or changes for the
    read side with `render` (without one they are rendered as they are read), and drops them
    from the `recent` caches. `reads` is the session's engine for one statement without a
    transaction (engine.for_reads), when already built: reads, and on PostgreSQL the commit of
    a unit of work that only added rows (rows.py). On SQLite such a unit is committed with
    others by `group`, when given (group_commit.py)."""

    actors: SqlActorRepository
    sheets: SqlSheetRepository
    images: SqlImageRepository
    idempotency: SqlIdempotencyRepository
    thumbnails: SqlThumbnailRepository
    operations: SqlOperationRepository
    ledger: SqlLedgerRepository

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        recent: Sequence[RecentActors[Any]] = (),
        render: ActorRenderer | None = None,
        reads: AsyncEngine | None = None,
        group: GroupCommit | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._recent = recent
        self._render = render
        self._reads = reads
        self._group = group
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> Self:
        # The session takes a connection only when first used; a pool that has none left
        # surfaces there, inside the block, and __aexit__ translates it.
        session = self._session_factory()
        self._session = session
        self.actors = SqlActorRepository(session)
        self.sheets = SqlSheetRepository(session)
        self.images = SqlImageRepository(session)
        if self._reads is None:  # built once: every session of the factory has the same engine
            self._reads = for_reads(self._bind(session))
        self.idempotency = SqlIdempotencyRepository(session, self._reads)
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
                session = self._active()
                if writes_alone(session) and await self._wrote_alone(session):
                    return
                await write_staged(session)
                if self._render is not None and self.actors.kept:
                    await session.flush()  # the versions the documents are rendered at
                    render = self._render
                    rendered = ((render(actor), at) for actor, at in self.actors.kept_versions())
                    await write_documents(await session.connection(), rendered)
                await session.commit()
        finally:
            # Also when the commit failed: whether it took effect is then unknown.
            if self.actors.changed:
                for recent in self._recent:
                    recent.forget(self.actors.changed)

    async def _wrote_alone(self, session: AsyncSession) -> bool:
        """Commits a unit of work that only added rows without its session, where that is
        cheaper: on PostgreSQL one statement in autocommit, on SQLite with others (group)."""
        if self._group is not None:
            await self._group.commit(take_staged(session))
            return True
        if self._reads is not None and self._reads.dialect.name == "postgresql":
            async with self._reads.connect() as connection:
                await write_together(connection, take_staged(session))
            return True
        return False

    async def rollback(self) -> None:
        session = self._active()
        discard_staged(session)
        await session.rollback()

    @staticmethod
    def _bind(session: AsyncSession) -> AsyncEngine:
        engine = session.bind
        assert isinstance(engine, AsyncEngine), "a unit of work's session is bound to an engine"
        return engine

    def _active(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is used outside its `async with` block")
        return self._session
