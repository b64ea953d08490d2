"""GenerateSheet and GetSheet: previews that are not yet in the library."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from casting.domain import names, styles
from casting.domain.errors import InvalidInput, NotFound
from casting.domain.model import Sheet
from casting.domain.ports import Clock, GenerationKind, GenerationSpec, IdFactory, UnitOfWork
from casting.domain.usecases.idempotency import Idempotency, RequestKey, request_id_violations, request_key
from casting.domain.usecases.painting import SheetPainter
from casting.domain.values import Traits


@dataclass(frozen=True, slots=True)
class GenerateSheetCommand:
    project: str
    story_style: str
    image_style: str
    traits: Traits
    request_id: str = ""
    image_size: str = ""  # "" (the model's default), "1K", "2K" or "4K"
    require_verified: bool = False


class GenerateSheet:
    """Draws a preview sheet from traits and keeps it until `sheet_ttl` passes unsaved."""

    operation = "GenerateSheet"

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        painter: SheetPainter,
        idempotency: Idempotency,
        ids: IdFactory,
        clock: Clock,
        sheet_ttl: timedelta,
    ) -> None:
        self._uow = uow
        self._painter = painter
        self._idempotency = idempotency
        self._ids = ids
        self._clock = clock
        self._ttl = sheet_ttl

    async def __call__(self, command: GenerateSheetCommand) -> Sheet:
        violations = (
            styles.style_violations(command.story_style, command.image_style)
            + command.traits.violations("traits")
            + request_id_violations(command.request_id)
        )
        if violations:
            raise InvalidInput(violations)
        key = request_key(self.operation, command)
        return await self._idempotency.create_once(
            self._uow, key, self._replay, lambda: self._draw(command, key)
        )

    async def _replay(self, uow: UnitOfWork, project: str, sheet_id: str) -> Sheet:
        return await live_sheet(uow, project, sheet_id, self._clock.now())

    async def _draw(self, command: GenerateSheetCommand, key: RequestKey) -> Sheet:
        story_style, image_style = styles.pick(command.story_style, command.image_style)
        spec = GenerationSpec(
            GenerationKind.SHEET, command.traits, story_style, image_style, image_size=command.image_size
        )
        painting = await self._painter.paint(
            command.project, spec, references=[], require_verified=command.require_verified
        )
        now = self._clock.now()
        sheet = Sheet(
            id=self._ids.new_id(),
            project=command.project,
            story_style=command.story_style,
            image_style=command.image_style,
            traits=command.traits,
            image=painting.image,
            provenance=painting.provenance,
            create_time=now,
            expire_time=now + self._ttl,
        )
        async with self._uow() as uow:
            await uow.images.add(painting.image)
            await self._painter.settle(uow, painting)
            await uow.sheets.add(sheet)
            await self._idempotency.remember(uow, key, sheet.id)
            await uow.commit()
        return sheet


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
