"""The casting engine of the embedded default (SQLite, one process): steps run as asyncio tasks
of this process, a few at a time. Its queue is the database itself: an operation's rows say which
roles lack an outcome, and ResumeCasting hands those back at start-up after a crash or a stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("casting.tasks")

Step = Callable[[str, str, int], Awaitable[None]]
Resume = Callable[[], Awaitable[int]]


class InProcessEngine:
    """Implements domain.ports.CastingEngine; `workers` steps run at once, in enqueue order."""

    def __init__(self, step: Step, workers: int) -> None:
        self._step = step
        self._slots = asyncio.Semaphore(workers)
        self._scheduled: dict[tuple[str, int], asyncio.Task[None]] = {}

    async def start(self, resume: Resume) -> None:
        """Runs again the roles a stopped or crashed process left without an outcome."""
        resumed = await resume()
        if resumed:
            log.info("resumed %d unfinished casting operations", resumed)

    async def enqueue(self, project: str, operation_id: str, roles: list[int]) -> None:
        for role in roles:
            key = (operation_id, role)
            if key not in self._scheduled:
                self._scheduled[key] = asyncio.create_task(self._run(project, operation_id, role))

    async def _run(self, project: str, operation_id: str, role: int) -> None:
        try:
            async with self._slots:
                await self._step(project, operation_id, role)
        except Exception:
            # The step records its own failures; this is an outage (the database gone): the role
            # stays without an outcome and runs again at the next start.
            log.exception("casting step %s/%d stopped", operation_id, role)
        finally:
            del self._scheduled[(operation_id, role)]

    async def aclose(self) -> None:
        """Stops the steps under way; they run again after the next start."""
        running = list(self._scheduled.values())
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
