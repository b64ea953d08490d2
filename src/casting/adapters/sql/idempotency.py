"""The idempotency repository: creates already done under a caller's request id (AIP-155)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Row, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from casting.adapters.sql import mappers
from casting.adapters.sql.disconnects import read_on
from casting.adapters.sql.models import IdempotencyRow
from casting.adapters.sql.rows import add_row
from casting.domain.ports import IdempotencyRecord

# Built once: a statement built per call costs its construction and its cache key every time.
_EARLIER_CALL = select(IdempotencyRow).where(
    IdempotencyRow.project == bindparam("project"),
    IdempotencyRow.operation == bindparam("operation"),
    IdempotencyRow.request_id == bindparam("request_id"),
)


class SqlIdempotencyRepository:
    def __init__(self, session: AsyncSession, reads: AsyncEngine) -> None:
        """`reads`: the session's engine for one-statement reads (engine.for_reads)."""
        self._session = session
        self._reads = reads

    async def get(self, project: str, operation: str, request_id: str) -> IdempotencyRecord | None:
        # One statement on a read connection, not in the session's transaction, whose BEGIN and
        # ROLLBACK were two more round trips on PostgreSQL: what it reads was committed by
        # another unit of work, which READ COMMITTED shows alike outside a transaction and in it.
        key = {"project": project, "operation": operation, "request_id": request_id}

        async def read(connection: AsyncConnection) -> Row[Any] | None:
            return (await connection.execute(_EARLIER_CALL, key)).first()

        row = await read_on(self._reads, read)
        return mappers.idempotency_from_row(row) if row else None

    async def add(self, record: IdempotencyRecord) -> None:
        # A second record for the same key fails as a Conflict (primary key) where it is written.
        add_row(self._session, IdempotencyRow, mappers.idempotency_values(record))

    async def delete_expired(self, cutoff: datetime, key: tuple[str, str, str] | None = None) -> int:
        expired = delete(IdempotencyRow).where(IdempotencyRow.create_time <= cutoff)
        if key is not None:
            project, operation, request_id = key
            expired = expired.where(
                IdempotencyRow.project == project,
                IdempotencyRow.operation == operation,
                IdempotencyRow.request_id == request_id,
            )
        result = await self._session.execute(expired)
        return cast(CursorResult[Any], result).rowcount
