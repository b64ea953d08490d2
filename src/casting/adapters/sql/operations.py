"""The operations repository: CastStory operations and their roles' outcomes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Select, and_, delete, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from casting.adapters.sql import mappers
from casting.adapters.sql.models import OperationRow, RoleOutcomeRow
from casting.domain.operations import CastingOperation, RoleOutcome
from casting.domain.pagination import PageRequest


def _operations() -> Select[tuple[OperationRow]]:
    return select(OperationRow).options(selectinload(OperationRow.outcomes))


class SqlOperationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, operation: CastingOperation) -> None:
        row = OperationRow(outcomes=[])
        mappers.write_operation(row, operation)
        self._session.add(row)

    async def get(
        self, project: str, operation_id: str, *, for_update: bool = False
    ) -> CastingOperation | None:
        query = _operations().where(OperationRow.project == project, OperationRow.id == operation_id)
        if for_update:
            query = query.with_for_update(of=OperationRow).execution_options(populate_existing=True)
        row = (await self._session.scalars(query)).one_or_none()
        return mappers.operation_from_row(row) if row else None

    async def list(self, project: str, page: PageRequest, story: str | None = None) -> list[CastingOperation]:
        query = _operations().where(OperationRow.project == project)
        if story is not None:
            query = query.where(OperationRow.story == story)
        if page.after is not None:
            created, last_id = page.after.create_time, page.after.id
            query = query.where(
                or_(
                    OperationRow.create_time < created,
                    and_(OperationRow.create_time == created, OperationRow.id < last_id),
                )
            )
        query = query.order_by(OperationRow.create_time.desc(), OperationRow.id.desc()).limit(page.size + 1)
        return [mappers.operation_from_row(row) for row in await self._session.scalars(query)]

    async def save(self, operation: CastingOperation) -> None:
        row = await self._session.get(OperationRow, (operation.project, operation.id))
        if row is not None:
            row.cancelled = operation.cancelled
            row.update_time = operation.update_time

    async def add_outcome(self, project: str, operation_id: str, outcome: RoleOutcome) -> None:
        # A second outcome for the same role fails at commit as a Conflict (primary key).
        self._session.add(mappers.outcome_to_row(project, operation_id, outcome))

    async def delete(self, project: str, operation_id: str) -> None:
        await self._session.execute(
            delete(RoleOutcomeRow).where(
                RoleOutcomeRow.project == project, RoleOutcomeRow.operation_id == operation_id
            )
        )
        await self._session.execute(
            delete(OperationRow).where(OperationRow.project == project, OperationRow.id == operation_id)
        )

    async def delete_expired(self, now: datetime) -> int:
        expired = select(OperationRow.id).where(OperationRow.expire_time <= now)
        await self._session.execute(delete(RoleOutcomeRow).where(RoleOutcomeRow.operation_id.in_(expired)))
        result = await self._session.execute(delete(OperationRow).where(OperationRow.expire_time <= now))
        return cast(CursorResult[Any], result).rowcount

    async def unfinished(self) -> list[CastingOperation]:
        recorded = (
            select(func.count())
            .where(
                RoleOutcomeRow.project == OperationRow.project, RoleOutcomeRow.operation_id == OperationRow.id
            )
            .correlate(OperationRow)
            .scalar_subquery()
        )
        query = _operations().where(OperationRow.cancelled == false(), OperationRow.roles_total > recorded)
        return [mappers.operation_from_row(row) for row in await self._session.scalars(query)]
