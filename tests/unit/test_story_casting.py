"""A role's step decides the role's outcome, except when the database is out of reach: then
nothing is recorded and the step fails, so that the engine runs it again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from casting.domain.errors import GenerationBlocked, StorageUnavailable
from casting.domain.operations import CastingCall
from casting.domain.usecases.idempotency import Idempotency
from casting.domain.usecases.story_casting import CastRole, CastStoryCommand, StartCastStory
from casting.domain.values import Traits
from tests.unit.conftest import App
from tests.unit.fakes import FakeUnitOfWork

P = "studio-1"


class Engine:
    def __init__(self) -> None:
        self.queued: list[tuple[str, int]] = []

    async def enqueue(self, project: str, operation_id: str, roles: list[int]) -> None:
        self.queued += [(operation_id, role) for role in roles]


async def started(app: App) -> tuple[str, CastRole]:
    def uow() -> FakeUnitOfWork:
        return FakeUnitOfWork(app.tables)

    engine = Engine()
    start = StartCastStory(uow, engine, Idempotency(app.clock), app.ids, app.clock, timedelta(days=1))
    calls = (CastingCall("Hero", traits=Traits(mood="brave"), story_style="action", image_style="webtoon"),)
    view = await start(CastStoryCommand(P, "pilot", calls))
    step = CastRole(uow, app.generate_sheets, app.save_actor, app.branch_variant, app.cast_variant, app.clock)
    return view.operation.id, step


async def test_a_refused_drawing_is_the_roles_failure(app: App) -> None:
    operation_id, step = await started(app)
    app.generator.failures.append(GenerationBlocked("SAFETY"))

    await step(P, operation_id, 0)

    outcome = app.tables.operations[(P, operation_id)].outcomes[0]
    assert outcome.failure is not None and outcome.failure.reason == "GENERATION_BLOCKED"


async def test_the_database_out_of_reach_leaves_the_role_to_run_again(app: App) -> None:
    operation_id, step = await started(app)
    app.generator.failures.append(StorageUnavailable("the database is out of reach"))

    with pytest.raises(StorageUnavailable):
        await step(P, operation_id, 0)
    assert app.tables.operations[(P, operation_id)].pending_roles() == [0]

    await step(P, operation_id, 0)  # the engine's retry
    outcome = app.tables.operations[(P, operation_id)].outcomes[0]
    assert outcome.failure is None and outcome.actor_id is not None
