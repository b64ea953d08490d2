"""GenerateSheets: candidates drawn concurrently, ranked, and derived previews committed."""

from __future__ import annotations

import asyncio

import pytest

from casting.domain.errors import InvalidInput, NotFound, PreconditionFailed, UpstreamBusy
from casting.domain.model import VariantKind
from casting.domain.usecases.actors import SaveActorCommand
from casting.domain.usecases.candidates import GenerateSheetsCommand
from casting.domain.usecases.variants import BranchVariantCommand
from casting.domain.values import TraitChanges
from tests.unit.conftest import App
from tests.unit.test_usecases import TRAITS, P, saved_actor

COAT = TraitChanges(outfit="red winter coat")


def first_sheets(**overrides: object) -> GenerateSheetsCommand:
    values: dict[str, object] = {
        "project": P,
        "story_style": "romance",
        "image_style": "webtoon",
        "traits": TRAITS,
    }
    return GenerateSheetsCommand(**(values | overrides))  # type: ignore[arg-type]


async def derived(app: App, **overrides: object) -> GenerateSheetsCommand:
    view = await saved_actor(app)
    app.generator.calls.clear()
    app.judge.calls.clear()
    values: dict[str, object] = {
        "project": P,
        "base_actor_id": view.actor.id,
        "base_variant_id": view.variants[0].id,
        "trait_changes": COAT,
    }
    return GenerateSheetsCommand(**(values | overrides))  # type: ignore[arg-type]


async def test_four_candidates_are_four_previews_each_judged(app: App) -> None:
    sheets = await app.generate_sheets(first_sheets(candidate_count=4))
    assert len(sheets) == len({s.id for s in sheets}) == len({s.image.sha256 for s in sheets}) == 4
    assert len(app.generator.calls) == len(app.judge.calls) == 4
    for sheet in sheets:
        assert (await app.get_sheet(P, sheet.id)).base is None
        assert sheet.provenance.verification.passed


async def test_candidates_are_drawn_concurrently(app: App) -> None:
    started = asyncio.Event()
    in_flight = 0
    peak = 0
    draw = app.generator.generate

    async def slow(spec, references):  # type: ignore[no-untyped-def]
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if in_flight == 3:
            started.set()
        await started.wait()  # nobody finishes before three are drawing at once
        in_flight -= 1
        return await draw(spec, references)

    app.generator.generate = slow  # type: ignore[method-assign]
    assert len(await app.generate_sheets(first_sheets(candidate_count=3))) == 3
    assert peak == 3


async def test_derived_previews_come_best_first(app: App) -> None:
    command = await derived(app, candidate_count=3)
    # two candidates pass; one scores 0.5 or 0.3 and its redraws 0.3 (which candidate gets
    # which score depends on which drawing is judged first)
    app.judge.script, app.judge.score = [0.5, 0.9, 0.8], 0.3
    sheets = await app.generate_sheets(command)
    scores = [s.provenance.verification.identity_score for s in sheets]
    passed = [s.provenance.verification.passed for s in sheets]
    assert passed == [True, True, False] and scores[:2] == [0.9, 0.8] and scores[2] in (0.5, 0.3)
    # derived previews are drawn reference-first and know the look they came from
    for spec, references in app.generator.calls:
        assert spec.changes == COAT and len(references) == 1
    stored = await app.get_sheet(P, sheets[0].id)
    assert stored.base is not None and stored.base.variant_id == command.base_variant_id
    assert stored.traits.outfit == "red winter coat"


async def test_require_verified_keeps_only_passing_candidates_or_refuses_storing_nothing(app: App) -> None:
    command = await derived(app, candidate_count=2, require_verified=True)
    app.judge.script, app.judge.score = [0.2, 0.9], 0.1  # the first one's redraws fail too
    (sheet,) = await app.generate_sheets(command)
    assert sheet.provenance.verification.identity_score == 0.9

    sheets_before, blobs_before = dict(app.tables.sheets), dict(app.blobs.blobs)
    with pytest.raises(PreconditionFailed) as error:
        await app.generate_sheets(command.__class__(**{**_fields(command), "request_id": "again"}))
    assert error.value.reason == "VERIFICATION_FAILED"
    assert app.tables.sheets == sheets_before and app.blobs.blobs == blobs_before


def _fields(command: GenerateSheetsCommand) -> dict[str, object]:
    return {name: getattr(command, name) for name in command.__dataclass_fields__}


async def test_a_candidate_the_model_refused_is_left_out(app: App) -> None:
    app.generator.failures.append(UpstreamBusy(2.0))
    assert len(await app.generate_sheets(first_sheets(candidate_count=3))) == 2
    app.generator.failures.extend([UpstreamBusy(2.0)] * 2)
    with pytest.raises(UpstreamBusy):
        await app.generate_sheets(first_sheets(candidate_count=2))


async def test_a_retried_request_makes_no_new_model_call_and_keeps_the_order(app: App) -> None:
    command = await derived(app, candidate_count=3, request_id="pick-1")
    app.judge.script = [0.75, 0.95, 0.85]
    first, again = await asyncio.gather(app.generate_sheets(command), app.generate_sheets(command))
    assert [s.id for s in again] == [s.id for s in first]
    assert [s.id for s in await app.generate_sheets(command)] == [s.id for s in first]
    assert len(app.generator.calls) == 3 and len(app.judge.calls) == 3


async def test_the_picked_preview_becomes_the_new_look_without_drawing(app: App) -> None:
    command = await derived(app, candidate_count=2, story="winter")
    picked = (await app.generate_sheets(command))[1]
    drawn = len(app.generator.calls)
    view = await app.branch_variant(
        BranchVariantCommand(P, command.base_actor_id, command.base_variant_id, "Winter", sheet_id=picked.id)
    )
    look = view.variant
    assert len(app.generator.calls) == drawn
    assert (look.kind, look.parent_id, look.story) == (VariantKind.DERIVED, command.base_variant_id, "winter")
    assert look.reference_image == picked.image and look.trait_changes == COAT
    assert look.provenance == picked.provenance and look.display_name == "Winter"
    # committed once: the preview is now part of the actor
    with pytest.raises(PreconditionFailed) as error:
        await app.branch_variant(
            BranchVariantCommand(P, command.base_actor_id, command.base_variant_id, sheet_id=picked.id)
        )
    assert error.value.reason == "SHEET_ALREADY_SAVED"


async def test_previews_go_only_where_they_belong(app: App) -> None:
    command = await derived(app)
    (preview,) = await app.generate_sheets(command)
    with pytest.raises(PreconditionFailed) as error:
        await app.save_actor(SaveActorCommand(P, preview.id, "Copy"))
    assert error.value.reason == "SHEET_IS_DERIVED"

    (first,) = await app.generate_sheets(first_sheets())
    with pytest.raises(PreconditionFailed) as error:
        await app.branch_variant(
            BranchVariantCommand(P, command.base_actor_id, command.base_variant_id, sheet_id=first.id)
        )
    assert error.value.reason == "SHEET_NOT_DERIVED"

    other = await saved_actor(app, "Jun")
    with pytest.raises(InvalidInput):
        await app.branch_variant(
            BranchVariantCommand(P, other.actor.id, other.variants[0].id, sheet_id=preview.id)
        )
    with pytest.raises(InvalidInput) as invalid:
        await app.branch_variant(
            BranchVariantCommand(
                P, command.base_actor_id, command.base_variant_id, sheet_id=preview.id, trait_changes=COAT
            )
        )
    assert {v.field for v in invalid.value.violations} == {"trait_changes"}


async def test_another_projects_look_or_preview_is_not_found(app: App) -> None:
    command = await derived(app)
    (preview,) = await app.generate_sheets(command)
    with pytest.raises(NotFound):
        await app.generate_sheets(command.__class__(**{**_fields(command), "project": "studio-2"}))
    with pytest.raises(NotFound):
        await app.branch_variant(
            BranchVariantCommand(
                "studio-2", command.base_actor_id, command.base_variant_id, sheet_id=preview.id
            )
        )


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"candidate_count": 0}, {"candidate_count"}),
        ({"candidate_count": 5}, {"candidate_count"}),
        ({"trait_changes": COAT}, {"trait_changes"}),
        ({"story": "winter"}, {"story"}),
        ({"image_style": "oil"}, {"image_style"}),
    ],
)
async def test_bad_requests_name_their_fields(
    app: App, overrides: dict[str, object], fields: set[str]
) -> None:
    with pytest.raises(InvalidInput) as error:
        await app.generate_sheets(first_sheets(**overrides))
    assert {v.field for v in error.value.violations} == fields
    assert app.generator.calls == []
