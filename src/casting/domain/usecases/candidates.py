"""GenerateSheets: several candidates drawn at once, for the artist to choose from; GenerateSheet
is its one-candidate form.

A first sheet from traits, or — with a base look and trait changes — derived previews of a
new look, drawn reference-first like BranchVariant. Each candidate is drawn and judged on its
own (with its own bounded redraw), all of them concurrently, so four take about as long as
one. They come back best first: passed before failed, then by identity score.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from casting.domain import styles
from casting.domain.errors import FieldViolation, InvalidInput
from casting.domain.model import LookBase, Sheet
from casting.domain.ports import Clock, GenerationKind, GenerationSpec, IdFactory, UnitOfWork
from casting.domain.usecases.actors import load_actor
from casting.domain.usecases.idempotency import Idempotency, RequestKey, request_id_violations, request_key
from casting.domain.usecases.painting import Painting, SheetPainter, rank
from casting.domain.usecases.sheets import live_sheet
from casting.domain.usecases.variants import plan_look
from casting.domain.values import Image, TraitChanges, Traits

MAX_CANDIDATES = 4


@dataclass(frozen=True, slots=True)
class GenerateSheetsCommand:
    """Candidates of a first sheet (`traits`), or of a new look of an actor (`base_actor_id` and
    `base_variant_id`, with `trait_changes` and, for a story-scoped look, `story`)."""

    project: str
    story_style: str = ""
    image_style: str = ""
    traits: Traits = Traits()
    base_actor_id: str = ""
    base_variant_id: str = ""
    trait_changes: TraitChanges = TraitChanges()
    story: str | None = None
    candidate_count: int = 1
    require_verified: bool = False
    request_id: str = ""
    image_size: str = ""

    @property
    def derived(self) -> bool:
        return bool(self.base_variant_id)


@dataclass(frozen=True, slots=True)
class _Plan:
    spec: GenerationSpec
    references: list[Image]
    story_style: str
    image_style: str
    base: LookBase | None


class GenerateSheets:
    """Draws `candidate_count` preview sheets concurrently and keeps them as previews (until
    `sheet_ttl`), best first. A candidate the model or the verification refused is left out;
    when none is left, the first refusal is the answer and nothing is stored."""

    operation = "GenerateSheets"

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

    async def __call__(self, command: GenerateSheetsCommand, operation: str = operation) -> list[Sheet]:
        """The candidates, best first; `operation` names the RPC whose request ids they answer."""
        violations = _violations(command)
        if violations:
            raise InvalidInput(violations)
        key = request_key(operation, command)
        return await self._idempotency.create_once(
            self._uow, key, self._replay, lambda: self._draw(command, key)
        )

    async def _replay(self, uow: UnitOfWork, project: str, sheet_ids: str) -> list[Sheet]:
        now = self._clock.now()
        return [await live_sheet(uow, project, sheet_id, now) for sheet_id in sheet_ids.split()]

    async def _draw(self, command: GenerateSheetsCommand, key: RequestKey) -> list[Sheet]:
        plan = await self._plan(command)
        outcomes = await asyncio.gather(
            *(
                self._painter.paint(
                    command.project, plan.spec, plan.references, require_verified=command.require_verified
                )
                for _ in range(command.candidate_count)
            ),
            return_exceptions=True,
        )
        paintings = [o for o in outcomes if isinstance(o, Painting)]
        if not paintings:
            raise next(o for o in outcomes if isinstance(o, BaseException))
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome  # cancellation and the like are never a candidate's refusal
        paintings.sort(key=lambda p: rank(p.verification), reverse=True)
        now = self._clock.now()
        sheets = [
            Sheet(
                id=self._ids.new_id(),
                project=command.project,
                story_style=plan.story_style,
                image_style=plan.image_style,
                traits=plan.spec.traits,
                image=painting.image,
                provenance=painting.provenance,
                create_time=now,
                expire_time=now + self._ttl,
                base=plan.base,
            )
            for painting in paintings
        ]
        async with self._uow() as uow:
            for sheet in sheets:
                await uow.images.add(sheet.image)
                await uow.sheets.add(sheet)
            await self._idempotency.remember(uow, key, " ".join(s.id for s in sheets))
            # Last: settling locks the project's month in the ledger until the commit.
            for painting in paintings:
                await self._painter.settle(uow, painting)
            await uow.commit()
        return sheets

    async def _plan(self, command: GenerateSheetsCommand) -> _Plan:
        if not command.derived:
            story_style, image_style = styles.pick(command.story_style, command.image_style)
            spec = GenerationSpec(
                GenerationKind.SHEET, command.traits, story_style, image_style, image_size=command.image_size
            )
            return _Plan(spec, [], command.story_style, command.image_style, None)
        async with self._uow() as uow:
            actor = await load_actor(uow, command.project, command.base_actor_id)
        look = plan_look(
            actor,
            command.base_variant_id,
            story=command.story,
            story_style=command.story_style,
            image_style=command.image_style,
            trait_changes=command.trait_changes,
            image_size=command.image_size,
        )
        base = LookBase(actor.id, command.base_variant_id, command.trait_changes, command.story)
        return _Plan(look.spec, look.references, look.story_style, look.image_style, base)


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
    """Draws one preview sheet from traits: GenerateSheets' single candidate, its request ids
    kept apart from GenerateSheets' own."""

    operation = "GenerateSheet"

    def __init__(self, generate_sheets: GenerateSheets) -> None:
        self._generate_sheets = generate_sheets

    async def __call__(self, command: GenerateSheetCommand) -> Sheet:
        candidates = GenerateSheetsCommand(
            project=command.project,
            story_style=command.story_style,
            image_style=command.image_style,
            traits=command.traits,
            require_verified=command.require_verified,
            request_id=command.request_id,
            image_size=command.image_size,
        )
        (sheet,) = await self._generate_sheets(candidates, self.operation)
        return sheet


def _violations(command: GenerateSheetsCommand) -> list[FieldViolation]:
    found = request_id_violations(command.request_id)
    if not 1 <= command.candidate_count <= MAX_CANDIDATES:
        found.append(FieldViolation("candidate_count", f"must be between 1 and {MAX_CANDIDATES}"))
    if command.derived:
        if command.traits != Traits():
            found.append(FieldViolation("traits", "must be unset with base_variant: say trait_changes"))
        found += styles.style_violations(command.story_style or None, command.image_style or None)
        found += command.trait_changes.violations("trait_changes")
        return found
    if not command.trait_changes.is_empty():
        found.append(FieldViolation("trait_changes", "needs base_variant, the look to change"))
    if command.story is not None:
        found.append(FieldViolation("story", "needs base_variant: a first sheet belongs to no story"))
    return (
        found
        + styles.style_violations(command.story_style, command.image_style)
        + command.traits.violations("traits")
    )
