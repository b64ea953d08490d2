"""GetSheet: previews that are not yet in the library (GenerateSheet(s) draws them)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from casting.domain import names
from casting.domain.errors import NotFound
from casting.domain.model import Sheet
from casting.domain.ports import Clock, UnitOfWork


class GetSheet:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, project: str, sheet_id: str) -> Sheet:
        async with self._uow() as uow:
            return await live_sheet(uow, project, sheet_id, self._clock.now())


async def live_sheet(
    uow: UnitOfWork, project: str, sheet_id: str, now: datetime, *, for_update: bool = False
) -> Sheet:
    """The sheet, unless it is unknown, of another project, or expired unsaved: NotFound."""
    sheet = await uow.sheets.get(project, sheet_id, for_update=for_update)
    if sheet is None or sheet.is_expired(now):
        raise NotFound("sheet", names.sheet(project, sheet_id))
    return sheet
