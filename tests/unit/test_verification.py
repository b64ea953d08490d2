"""Verified drawings: every drawing judged, a bounded redraw, the best kept or refused."""

from __future__ import annotations

import pytest

from casting.domain.errors import PreconditionFailed, UpstreamBusy, UpstreamUnavailable
from casting.domain.usecases.actors import SaveActorCommand
from casting.domain.usecases.painting import Verifying
from casting.domain.usecases.variants import BranchVariantCommand
from casting.domain.values import TraitChanges, Usage
from tests.unit.conftest import ESTIMATE, App
from tests.unit.fakes import JUDGING, FakeUnitOfWork
from tests.unit.test_usecases import P, sheet_command

MAX_DRAWS = Verifying().max_draws


async def branch(app: App, judged: list[float | Exception] | None = None, **overrides: object):
    """A look branched from a new actor's first sheet, `judged` as scripted."""
    sheet = await app.generate_sheet(sheet_command())
    actor = await app.save_actor(SaveActorCommand(P, sheet.id, "Mina"))
    app.generator.calls.clear()
    app.judge.calls.clear()
    app.judge.script = list(judged or [])
    base = actor.variants[0]
    changes = TraitChanges(outfit="coat")
    return await app.branch_variant(
        BranchVariantCommand(P, actor.actor.id, base.id, trait_changes=changes, **overrides)  # type: ignore[arg-type]
    )


async def test_a_passing_drawing_is_drawn_once_and_says_so(app: App) -> None:
    view = await branch(app)
    verification = view.variant.provenance.verification
    assert (verification.passed, verification.identity_score, verification.draws) == (True, 1.0, 1)
    assert verification.judge == "scripted" and verification.unverified_reason == ""
    assert len(app.generator.calls) == len(app.judge.calls) == 1


async def test_the_judge_sees_the_anchor_first_and_the_drawing_it_judges(app: App) -> None:
    await branch(app)
    ((spec, references),) = app.generator.calls
    ((judged_spec, candidate, anchors),) = app.judge.calls
    assert judged_spec == spec and anchors == references and len(anchors) == 1
    assert candidate.data != anchors[0].data


async def test_a_judge_that_always_fails_gets_exactly_max_draws_drawings(app: App) -> None:
    app.judge.score = 0.2
    view = await branch(app)
    verification = view.variant.provenance.verification
    assert len(app.generator.calls) == len(app.judge.calls) == MAX_DRAWS
    assert not verification.passed and verification.draws == MAX_DRAWS
    identity = {c.rule: c for c in verification.checks}["identity"]
    assert not identity.passed and "0.20" in identity.detail


async def test_the_best_failed_drawing_is_kept_with_every_drawing_paid_for(app: App) -> None:
    view = await branch(app, [0.3, 0.6, 0.5])
    provenance = view.variant.provenance
    assert provenance.verification.identity_score == 0.6 and provenance.verification.draws == 3
    # the second drawing is the one kept: each drawing is another shade (FakeGenerator)
    kept = app.blobs.blobs[view.variant.reference_image.blob_key]
    assert len(app.blobs.blobs) == 2  # the base sheet and the one kept drawing, no other
    assert kept != app.blobs.blobs[next(iter(app.blobs.blobs))]
    # three drawings and three judgements, each billed, and in the ledger once the look is kept
    assert provenance.usage == sum([app.generator.usage, JUDGING] * 3, Usage())
    async with FakeUnitOfWork(app.tables) as uow:
        spent = await uow.ledger.spent(P, app.clock.now().strftime("%Y-%m"))
    assert spent == 4 * app.generator.usage.cost_micros + 4 * JUDGING.cost_micros  # the base sheet too


async def test_a_redraw_the_budget_cannot_cover_is_not_drawn(app: App) -> None:
    app.judge.score = 0.2
    month = app.clock.now().strftime("%Y-%m")
    first_sheet = app.generator.usage + JUDGING  # what branch() spends before the look
    # Room for the look's first drawing and its judging, not for a second reservation.
    app.budgets.caps[P] = first_sheet.cost_micros + ESTIMATE + ESTIMATE // 2
    view = await branch(app)

    verification = view.variant.provenance.verification
    assert len(app.generator.calls) == len(app.judge.calls) == 1
    assert not verification.passed and verification.draws == 1
    async with FakeUnitOfWork(app.tables) as uow:
        spent = await uow.ledger.spent(P, month)
    assert spent == 2 * first_sheet.cost_micros <= app.budgets.caps[P]


async def test_a_later_passing_drawing_stops_the_redraw(app: App) -> None:
    view = await branch(app, [0.2, 0.95])
    verification = view.variant.provenance.verification
    assert verification.passed and verification.draws == 2 and verification.identity_score == 0.95
    assert len(app.generator.calls) == 2


async def test_a_broken_rule_fails_the_drawing_and_is_named(app: App) -> None:
    app.judge.failing = ("no_text",)
    view = await branch(app)
    verification = view.variant.provenance.verification
    assert not verification.passed and verification.draws == MAX_DRAWS
    assert [c.rule for c in verification.checks if not c.passed] == ["no_text"]


async def test_require_verified_refuses_and_stores_nothing(app: App) -> None:
    app.judge.score = 0.2
    sheet = await app.generate_sheet(sheet_command())
    actor = await app.save_actor(SaveActorCommand(P, sheet.id, "Mina"))
    blobs_before = dict(app.blobs.blobs)
    command = BranchVariantCommand(
        P,
        actor.actor.id,
        actor.variants[0].id,
        trait_changes=TraitChanges(outfit="coat"),
        require_verified=True,
    )
    with pytest.raises(PreconditionFailed) as error:
        await app.branch_variant(command)
    assert error.value.reason == "VERIFICATION_FAILED" and "identity" in error.value.message
    assert app.blobs.blobs == blobs_before
    assert len((await app.get_actor(P, actor.actor.id)).variants) == 1


@pytest.mark.parametrize(
    "outage", [UpstreamUnavailable("MODEL_UNAVAILABLE"), UpstreamBusy(5.0)], ids=["unavailable", "busy"]
)
async def test_a_judge_outage_keeps_the_drawing_unverified(app: App, outage: Exception) -> None:
    view = await branch(app, [outage], require_verified=True)
    verification = view.variant.provenance.verification
    assert not verification.passed and verification.identity_score is None
    assert "judge could not answer" in verification.unverified_reason
    assert len(app.generator.calls) == 1  # not drawn again: the judge, not the drawing, failed


async def test_verification_off_draws_once_and_says_unverified() -> None:
    app = App(verifying=Verifying(enabled=False))
    app.judge.score = 0.0
    sheet = await app.generate_sheet(sheet_command())
    assert sheet.provenance.verification.unverified_reason == "verification is off"
    assert app.judge.calls == [] and len(app.generator.calls) == 1


async def test_a_first_sheet_has_no_identity_score_but_its_rules_are_judged(app: App) -> None:
    sheet = await app.generate_sheet(sheet_command())
    verification = sheet.provenance.verification
    assert verification.passed and verification.identity_score is None
    assert {c.rule for c in verification.checks} == {"aspect_9_16", "no_text"}
