"""Drawing a sheet: ask the generator, check what came back, store it.

Shared by GenerateSheet and BranchVariant. Runs outside any transaction, so no database
connection is held while the model works; the blob is written before any row points at it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from casting.domain import deadline
from casting.domain.errors import InvalidImage, ModelCallFailed, UpstreamUnavailable
from casting.domain.ports import Charge, GenerationSpec, ImageCodec, ImageGenerator, UnitOfWork
from casting.domain.usecases.images import ImageKeeper
from casting.domain.usecases.spending import Spending
from casting.domain.values import Image, ImageFacts, Provenance, Usage

SHEET_ASPECT = 9 / 16
ASPECT_TOLERANCE = 0.02


@dataclass(frozen=True, slots=True)
class Painting:
    """A stored drawing, and its ledger entry, to settle where its row is written
    (SheetPainter.settle)."""

    image: Image
    provenance: Provenance
    charge: Charge


def _free(spec: GenerationSpec) -> int:
    return 0


def check_sheet(facts: ImageFacts) -> None:
    """A sheet is vertical 9:16, within 2%."""
    aspect = facts.width / facts.height
    if abs(aspect - SHEET_ASPECT) / SHEET_ASPECT > ASPECT_TOLERANCE:
        raise InvalidImage(f"a sheet must be 9:16; the model drew {facts.width}x{facts.height}")


class SheetPainter:
    def __init__(
        self,
        generator: ImageGenerator,
        codec: ImageCodec,
        keeper: ImageKeeper,
        spending: Spending,
        estimate_micros: Callable[[GenerationSpec], int] = _free,
        attempts: int = 2,
        time_limit_seconds: float = 300.0,
    ) -> None:
        self._generator = generator
        self._codec = codec
        self._keeper = keeper
        self._spending = spending
        self._estimate = estimate_micros
        self._attempts = attempts
        self._time_limit = time_limit_seconds

    async def paint(self, project: str, spec: GenerationSpec, references: list[Image]) -> Painting:
        """Draws one sheet from `spec`, `references` first (identity anchor first), and stores it.

        The project's budget is checked first (BudgetExceeded, before any model call). An
        unusable image (not decodable, not 9:16) is drawn again, then refused as
        UpstreamUnavailable(INVALID_MODEL_IMAGE); model errors pass through, each charged what
        the model billed. The whole, redraws included, ends within `time_limit_seconds`
        whatever the caller's deadline. The caller settles the painting's charge where it
        stores the painting (settle()).
        """
        charge = await self._spending.reserve(project, self._estimate(spec))
        spent: list[Usage] = []
        try:
            with deadline.at_most(self._time_limit):
                return await self._paint(project, spec, references, charge, spent)
        except Exception as error:
            # The drawings before it, and what a failed model call itself billed. (A caller
            # who left, CancelledError, keeps the estimate: what the model billed is unknown.)
            billed = error.usage if isinstance(error, ModelCallFailed) else None
            await self._spending.settle_failed(charge, sum(spent, billed or Usage()))
            raise

    async def settle(self, uow: UnitOfWork, painting: Painting) -> None:
        """Stages the painting's cost in the ledger, in the transaction that stores it."""
        await self._spending.settle(uow, painting.charge, painting.provenance.usage)

    async def _paint(
        self, project: str, spec: GenerationSpec, references: list[Image], charge: Charge, spent: list[Usage]
    ) -> Painting:
        anchors = [await self._keeper.load(r) for r in references]
        started = time.perf_counter()
        for _ in range(self._attempts):
            generated = await self._generator.generate(spec, anchors)
            spent.append(generated.usage)
            try:
                facts = await self._codec.inspect(generated.data)
                check_sheet(facts)
            except InvalidImage:
                continue
            image = await self._keeper.keep(project, generated.data, facts)
            provenance = Provenance(
                generator=generated.generator,
                model=generated.model,
                prompt_version=generated.prompt_version,
                prompt_sha256=generated.prompt_sha256,
                reference_image_ids=tuple(r.id for r in references),
                duration_seconds=time.perf_counter() - started,
                usage=sum(spent, Usage()),
            )
            return Painting(image, provenance, charge)
        # Every attempt drew something unusable; say so rather than store it.
        raise UpstreamUnavailable("INVALID_MODEL_IMAGE", "the image model returned no usable 9:16 sheet")
