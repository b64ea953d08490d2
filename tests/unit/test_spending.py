"""What drawings cost each project: usage on every result, a ledger, and monthly budgets checked
before the model is called."""

from __future__ import annotations

from dataclasses import replace

import pytest

from casting.domain.errors import BudgetExceeded, GenerationBlocked, InvalidInput, UpstreamUnavailable
from casting.domain.usecases.actors import SaveActorCommand
from casting.domain.usecases.candidates import GenerateSheetCommand
from casting.domain.usecases.painting import Verifying
from casting.domain.usecases.variants import BranchVariantCommand
from casting.domain.values import TraitChanges, Traits, Usage
from tests.unit.conftest import ESTIMATE, App
from tests.unit.fakes import FakeUnitOfWork

P = "studio-1"
DRAWING = Usage(model_calls=1, input_tokens=1000, output_tokens=1290, cost_micros=39_000)


@pytest.fixture
def app() -> App:
    """Drawings alone: what judging them adds is test_verification.py's."""
    return App(verifying=Verifying(enabled=False))


def sheet(project: str = P) -> GenerateSheetCommand:
    return GenerateSheetCommand(
        project=project, story_style="romance", image_style="webtoon", traits=Traits()
    )


async def spent(app: App, project: str = P) -> int:
    async with FakeUnitOfWork(app.tables) as uow:
        return await uow.ledger.spent(project, app.clock.now().strftime("%Y-%m"))


async def test_a_drawing_carries_its_usage_and_its_cost_is_in_the_ledger(app: App) -> None:
    drawn = await app.generate_sheet(sheet())

    assert drawn.provenance.usage == DRAWING
    assert await spent(app) == DRAWING.cost_micros


async def test_a_drawing_that_would_pass_the_cap_is_refused_before_the_model_is_called(app: App) -> None:
    app.budgets.caps[P] = DRAWING.cost_micros + ESTIMATE - 1
    await app.generate_sheet(sheet())

    with pytest.raises(BudgetExceeded) as refused:
        await app.generate_sheet(sheet())

    assert len(app.generator.calls) == 1
    assert (refused.value.cap_micros, refused.value.spent_micros) == (
        app.budgets.caps[P],
        DRAWING.cost_micros,
    )
    assert await spent(app) == DRAWING.cost_micros, "a refusal reserves nothing"
    assert len(app.tables.sheets) == 1


async def test_caps_are_per_project(app: App) -> None:
    app.budgets.caps[P] = 0

    with pytest.raises(BudgetExceeded):
        await app.generate_sheet(sheet())
    await app.generate_sheet(sheet("studio-2"))

    assert await spent(app, "studio-2") == DRAWING.cost_micros


async def test_a_refused_drawing_is_charged_what_the_model_billed(app: App) -> None:
    app.generator.failures.append(GenerationBlocked("SAFETY", usage=Usage(1, 500, 0, 150)))

    with pytest.raises(GenerationBlocked):
        await app.generate_sheet(sheet())

    assert await spent(app) == 150


async def test_an_outage_with_no_bill_gives_its_reservation_back(app: App) -> None:
    app.generator.failures.append(UpstreamUnavailable("MODEL_UNAVAILABLE", usage=Usage(model_calls=3)))

    with pytest.raises(UpstreamUnavailable):
        await app.generate_sheet(sheet())

    assert await spent(app) == 0


async def test_every_drawing_of_a_redraw_is_charged(app: App) -> None:
    app.generator.width = app.generator.height  # square, not 9:16: drawn again, then refused

    with pytest.raises(UpstreamUnavailable):
        await app.generate_sheet(sheet())

    assert await spent(app) == 2 * DRAWING.cost_micros


async def test_a_branch_is_charged_like_a_sheet(app: App) -> None:
    first = await app.generate_sheet(sheet())
    actor = (await app.save_actor(SaveActorCommand(P, first.id, "Mina"))).actor
    app.generator.usage = replace(DRAWING, cost_micros=41_000)

    look = await app.branch_variant(
        BranchVariantCommand(
            P, actor.id, actor.default_variant.id, trait_changes=TraitChanges(mood="wistful")
        )
    )

    assert look.variant.provenance is not None and look.variant.provenance.usage.cost_micros == 41_000
    assert await spent(app) == DRAWING.cost_micros + 41_000


async def test_a_request_the_model_cannot_draw_gives_its_reservation_back(app: App) -> None:
    app.generator.failures.append(InvalidInput.field("image_size", "fake-1 draws 1K only"))

    with pytest.raises(InvalidInput):
        await app.generate_sheet(replace(sheet(), image_size="4K"))

    assert app.generator.calls[0][0].image_size == "4K"
    assert await spent(app) == 0
