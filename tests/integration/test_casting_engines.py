"""Both casting engines, on their databases: a role scheduled twice runs once, and the first
roles of a story started behind another's batch run among the batch's, not after it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import make_url

from casting.adapters.tasks.in_process import InProcessEngine
from casting.adapters.tasks.procrastinate_engine import ProcrastinateEngine


class Steps:
    """A step that records what it ran; the first run waits until let go."""

    def __init__(self, expected: int) -> None:
        self.ran: list[tuple[str, int]] = []
        self.first_started = asyncio.Event()
        self.let_go = asyncio.Event()
        self.all_ran = asyncio.Event()
        self._expected = expected

    async def __call__(self, project: str, operation_id: str, role: int) -> None:
        self.ran.append((operation_id, role))
        if len(self.ran) == 1:
            self.first_started.set()
            await self.let_go.wait()
        if len(self.ran) == self._expected:
            self.all_ran.set()


async def nothing_to_resume() -> int:
    return 0


@pytest.fixture
def steps() -> Steps:
    return Steps(expected=6)


@pytest.fixture
async def engine(database_url: str, steps: Steps) -> AsyncIterator[InProcessEngine | ProcrastinateEngine]:
    engine: InProcessEngine | ProcrastinateEngine
    if make_url(database_url).get_backend_name() == "postgresql":
        engine = ProcrastinateEngine(
            database_url, steps, workers=1, heartbeat_seconds=0.5, stalled_seconds=5, grace_seconds=1
        )
    else:
        engine = InProcessEngine(steps, workers=1)
    await engine.start(nothing_to_resume)
    yield engine
    await engine.aclose()


async def test_a_later_storys_first_roles_run_among_an_earlier_batch(
    engine: InProcessEngine | ProcrastinateEngine, steps: Steps
) -> None:
    await engine.enqueue("p", "batch", [0, 1, 2, 3])
    async with asyncio.timeout(30):
        await steps.first_started.wait()
    await engine.enqueue("q", "story", [0, 1])
    await engine.enqueue("p", "batch", [1, 2, 3])  # again, as a resume would: no second run

    steps.let_go.set()
    async with asyncio.timeout(30):
        await steps.all_ran.wait()

    assert steps.ran == [
        ("batch", 0),
        ("story", 0),
        ("batch", 1),
        ("story", 1),
        ("batch", 2),
        ("batch", 3),
    ]


async def test_a_step_that_stopped_on_an_outage_runs_again() -> None:
    ran = asyncio.Event()
    attempts: list[int] = []

    async def step(project: str, operation_id: str, role: int) -> None:
        attempts.append(role)
        if len(attempts) == 1:
            raise ConnectionError("the database is out of reach")
        ran.set()

    engine = InProcessEngine(step, workers=1, retry_seconds=0)
    await engine.start(nothing_to_resume)
    await engine.enqueue("p", "op", [0])
    async with asyncio.timeout(30):
        await ran.wait()
    await engine.aclose()

    assert attempts == [0, 0]
