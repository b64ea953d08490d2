"""The sheet repository: unsaved previews with their image."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from casting.adapters.sql import mappers
from casting.adapters.sql.models import SheetRow
from casting.adapters.sql.rows import add_row
from casting.domain.errors import Conflict
from casting.domain.model import Sheet

# Where the mapper's version counter starts (version_id_col), for the rows it did not write.
_FIRST_VERSION = {"version": 1}


class SqlSheetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        # Strong references to the rows read: the identity map would let clean rows go before save().
        self._rows: dict[str, SheetRow] = {}

    async def add(self, sheet: Sheet) -> None:
        add_row(self._session, SheetRow, mappers.sheet_values(sheet) | _FIRST_VERSION)

    async def get(self, project: str, sheet_id: str, *, for_update: bool = False) -> Sheet | None:
        query = (
            select(SheetRow)
            .options(joinedload(SheetRow.image, innerjoin=True))
            .where(SheetRow.id == sheet_id, SheetRow.project == project)
        )
        if for_update:
            query = query.with_for_update(of=SheetRow).execution_options(populate_existing=True)
        row = (await self._session.scalars(query)).one_or_none()
        if row is None:
            return None
        self._rows[row.id] = row
        return mappers.sheet_from_row(row)

    async def save(self, sheet: Sheet) -> None:
        row = self._rows.get(sheet.id) or await self._session.get(SheetRow, sheet.id)
        if row is None:
            raise Conflict("the sheet was deleted concurrently; retry the request")
        mappers.write_sheet(row, sheet)

    async def delete_expired(self, now: datetime) -> int:
        # One statement whatever the number; none of the rows is loaded in this session.
        expired = delete(SheetRow).where(SheetRow.character_id.is_(None), SheetRow.expire_time <= now)
        result = await self._session.execute(expired.execution_options(synchronize_session=False))
        return cast(CursorResult[Any], result).rowcount
