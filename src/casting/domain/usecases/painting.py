"""Drawing a sheet: ask the generator, check what came back, have it judged, store it.

Shared by GenerateSheet(s) and BranchVariant. Runs outside any transaction, so no database
connection is held while the model works; the blob is written before any row points at it.

Every drawing is judged (identity against the references, and the sheet rules). One that
fails is drawn again, at most `max_draws` drawings in all; then the best one is kept with its
failed checks named, or refused when the caller requires a verified drawing. A judge that
cannot answer never costs the drawing already made: it is kept as unverified, with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from casting.domain import deadline
from casting.domain.errors import (
    BudgetExceeded,
    InvalidImage,
    ModelCallFailed,
    PreconditionFailed,
    UpstreamBusy,
    UpstreamUnavailable,
)
from casting.domain.ports import (
    Charge,
    GeneratedImage,
    GenerationSpec,
    ImageCodec,
    ImageGenerator,
    Judge,
    Judgement,
    UnitOfWork,
)
from casting.domain.usecases.images import ImageKeeper
from casting.domain.usecases.spending import Spending
from casting.domain.values import (
    Image,
    ImageBytes,
    ImageFacts,
    Provenance,
    Usage,
    Verification,
    VerificationCheck,
)

SHEET_ASPECT = 9 / 16
ASPECT_TOLERANCE = 0.02
VERIFICATION_FAILED = "VERIFICATION_FAILED"
VERIFICATION_OFF = "verification is off"


@dataclass(frozen=True, slots=True)
class Verifying:
    """How drawings are judged: `enabled` (CASTING_VERIFY), the identity score a drawing needs
    (CASTING_MIN_IDENTITY_SCORE) and the most drawings per candidate (CASTING_MAX_DRAWS)."""

    enabled: bool = True
    min_identity_score: float = 0.7
    max_draws: int = 3

    def __post_init__(self) -> None:
        if self.max_draws < 1:
            raise ValueError("max_draws must be at least 1")
        if not 0.0 <= self.min_identity_score <= 1.0:
            raise ValueError("min_identity_score must be between 0 and 1")

    def verdict(self, judgement: Judgement, draws: int) -> Verification:
        """The judgement against the threshold: passed when every rule and the identity hold."""
        checks = judgement.checks
        if judgement.identity_score is not None:
            score = judgement.identity_score
            held = score >= self.min_identity_score
            detail = f"identity {score:.2f} {'>=' if held else '<'} {self.min_identity_score:.2f}"
            checks = (VerificationCheck("identity", held, detail), *checks)
        return Verification(
            passed=all(c.passed for c in checks),
            identity_score=judgement.identity_score,
            checks=checks,
            judge=judgement.judge,
            draws=draws,
        )


def rank(verification: Verification) -> tuple[bool, float, int]:
    """Orders drawings best first when sorted in reverse: passed before failed, then by
    identity score, then by fewer failed rules."""
    failed = sum(not c.passed for c in verification.checks)
    return (verification.passed, verification.identity_score or 0.0, -failed)


def failed_rules(verification: Verification) -> list[str]:
    return [c.rule for c in verification.checks if not c.passed]


@dataclass(frozen=True, slots=True)
class Painting:
    """A stored drawing, and its ledger entry, to settle where its row is written
    (SheetPainter.settle)."""

    image: Image
    provenance: Provenance
    charge: Charge

    @property
    def verification(self) -> Verification:
        return self.provenance.verification


@dataclass(slots=True)
class _Tab:
    """What one painting has reserved and spent so far, to settle however it ends."""

    charge: Charge
    spent: list[Usage] = field(default_factory=list)

    @property
    def usage(self) -> Usage:
        return sum(self.spent, Usage())


@dataclass(frozen=True, slots=True)
class _Drawing:
    generated: GeneratedImage
    facts: ImageFacts
    verification: Verification


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
        judge: Judge,
        verifying: Verifying = Verifying(),
        estimate_micros: Callable[[GenerationSpec], int] = _free,
        attempts: int = 2,
        time_limit_seconds: float = 300.0,
    ) -> None:
        self._generator = generator
        self._codec = codec
        self._keeper = keeper
        self._spending = spending
        self._judge = judge
        self._verifying = verifying
        self._estimate = estimate_micros
        self._attempts = attempts
        self._time_limit = time_limit_seconds

    async def paint(
        self,
        project: str,
        spec: GenerationSpec,
        references: list[Image],
        *,
        require_verified: bool = False,
    ) -> Painting:
        """Draws one sheet from `spec`, `references` first (identity anchor first), judges it
        against them, and stores the best drawing.

        The project's budget is checked first (BudgetExceeded, before any model call), and
        again before each redraw: a redraw the cap refuses is not drawn, the best so far is kept. An
        unusable image (not decodable, not 9:16) is drawn again, then refused as
        UpstreamUnavailable(INVALID_MODEL_IMAGE); model errors pass through, each charged what
        the model billed. With `require_verified`, a drawing that never passed is
        PreconditionFailed (VERIFICATION_FAILED), nothing is stored and the drawings are
        charged. The whole, redraws included, ends within `time_limit_seconds` whatever the
        caller's deadline. The caller settles the painting's charge where it stores the
        painting (settle()).
        """
        tab = _Tab(await self._spending.reserve(project, self._estimate(spec)))
        try:
            with deadline.at_most(self._time_limit):
                return await self._paint(project, spec, references, tab, require_verified)
        except Exception as error:
            # The drawings before it, and what a failed model call itself billed. (A caller
            # who left, CancelledError, keeps the estimate: what the model billed is unknown.)
            billed = error.usage if isinstance(error, ModelCallFailed) else None
            await self._spending.settle_failed(tab.charge, tab.usage + (billed or Usage()))
            raise

    async def settle(self, uow: UnitOfWork, painting: Painting) -> None:
        """Stages the painting's cost in the ledger, in the transaction that stores it. Stage it
        last before the commit: it locks the project's month until then."""
        await self._spending.settle(uow, painting.charge, painting.provenance.usage)

    async def _paint(
        self,
        project: str,
        spec: GenerationSpec,
        references: list[Image],
        tab: _Tab,
        require_verified: bool,
    ) -> Painting:
        anchors = [await self._keeper.load(r) for r in references]
        started = time.perf_counter()
        best: _Drawing | None = None
        draws = 0
        while draws < self._verifying.max_draws:
            if draws and not await self._reserve_redraw(spec, tab):
                break  # the month's budget leaves the best drawing so far
            draws += 1
            generated, facts = await self._usable(spec, anchors, tab.spent)
            verification, judged = await self._verify(spec, generated, anchors, draws)
            tab.spent.append(judged)
            if best is None or rank(verification) > rank(best.verification):
                best = _Drawing(generated, facts, verification)
            if verification.passed or not verification.judged:
                break
        assert best is not None  # max_draws >= 1
        # The count of drawings it took is the candidate's, not the kept drawing's.
        verification = replace(best.verification, draws=draws)
        if require_verified and verification.judged and not verification.passed:
            raise PreconditionFailed(
                VERIFICATION_FAILED,
                f"no drawing passed verification in {draws} tries; the best failed "
                + ", ".join(failed_rules(verification)),
            )
        image = await self._keeper.keep(project, best.generated.data, best.facts)
        provenance = Provenance(
            generator=best.generated.generator,
            model=best.generated.model,
            prompt_version=best.generated.prompt_version,
            prompt_sha256=best.generated.prompt_sha256,
            reference_image_ids=tuple(r.id for r in references),
            duration_seconds=time.perf_counter() - started,
            verification=verification,
            usage=tab.usage,
        )
        return Painting(image, provenance, tab.charge)

    async def _reserve_redraw(self, spec: GenerationSpec, tab: _Tab) -> bool:
        """Reserves one more drawing on the painting's charge; False when the cap refuses it."""
        try:
            tab.charge = await self._spending.extend(tab.charge, self._estimate(spec))
        except BudgetExceeded:
            return False
        return True

    async def _usable(
        self, spec: GenerationSpec, anchors: list[ImageBytes], spent: list[Usage]
    ) -> tuple[GeneratedImage, ImageFacts]:
        for _ in range(self._attempts):
            generated = await self._generator.generate(spec, anchors)
            spent.append(generated.usage)
            try:
                facts = await self._codec.inspect(generated.data)
                check_sheet(facts)
            except InvalidImage:
                continue
            return generated, facts
        # Every attempt drew something unusable; say so rather than store it.
        raise UpstreamUnavailable("INVALID_MODEL_IMAGE", "the image model returned no usable 9:16 sheet")

    async def _verify(
        self, spec: GenerationSpec, generated: GeneratedImage, anchors: list[ImageBytes], draws: int
    ) -> tuple[Verification, Usage]:
        """The drawing's verdict and what judging it cost."""
        if not self._verifying.enabled:
            return Verification.unverified(VERIFICATION_OFF, draws), Usage()
        candidate = ImageBytes(generated.data, generated.mime_type)
        try:
            judgement = await self._judge.judge(spec, candidate, anchors)
        except (UpstreamBusy, UpstreamUnavailable) as error:
            # The drawing was made and paid for: keep it, unjudged, and say why.
            reason = f"the judge could not answer ({error.reason})"
            return Verification.unverified(reason, draws), error.usage or Usage()
        return self._verifying.verdict(judgement, draws), judgement.usage
