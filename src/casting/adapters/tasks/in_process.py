"""The casting engine of the embedded default (SQLite, one process): steps run as asyncio tasks
of this process, a few at a time. Its queue is the database itself: an operation's rows say which
roles lack an outcome, and ResumeCasting hands those back at start-up after a crash or a stop.

Waiting steps are taken by their role's position in its operation, then in arrival order (the
order procrastinate keeps on PostgreSQL, as job priority): a story started behind another's long
batch has its first roles cast among the batch's, not after all of it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("casting.tasks")

Step = Callable[[str, str, int], Awaitable[None]]
Resume = Callable[[], Awaitable[int]]


class InProcessEngine:
    """Implements domain.ports.CastingEngine; `workers` steps run at once."""

    def __init__(self, step: Step, workers: int, retry_seconds: float = 5.0) -> None:
        self._step = step
        self._free = workers
        self._retry_seconds = retry_seconds
        self._arrivals = itertools.count()
        # (role position, arrival, project, operation, role)
        self._waiting: list[tuple[int, int, str, str, int]] = []
        self._scheduled: set[tuple[str, int]] = set()
        self._running: set[asyncio.Task[None]] = set()

    async def start(self, resume: Resume) -> None:
        """Runs again the roles a stopped or crashed process left without an outcome."""
        resumed = await resume()
        if resumed:
            log.info("resumed %d unfinished casting operations", resumed)

    async def enqueue(self, project: str, operation_id: str, roles: list[int]) -> None:
        for role in roles:
            if (operation_id, role) not in self._scheduled:
                self._scheduled.add((operation_id, role))
                heapq.heappush(self._waiting, (role, next(self._arrivals), project, operation_id, role))
        self._dispatch()

    def _dispatch(self) -> None:
        while self._free and self._waiting:
            _, _, project, operation_id, role = heapq.heappop(self._waiting)
            self._free -= 1
            task = asyncio.create_task(self._run(project, operation_id, role))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, project: str, operation_id: str, role: int) -> None:
        failed = False
        try:
            await self._step(project, operation_id, role)
        except Exception:
            # The step records its own failures; this is an outage (the database gone): the role
            # stays without an outcome and is tried again after a pause.
            log.exception(
                "casting step %s/%d stopped; retrying in %s s", operation_id, role, self._retry_seconds
            )
            failed = True
        finally:
            self._scheduled.discard((operation_id, role))
            self._free += 1
            self._dispatch()
        if failed:
            await asyncio.sleep(self._retry_seconds)
            await self.enqueue(project, operation_id, [role])

    async def aclose(self) -> None:
        """Stops the steps under way; they run again after the next start."""
        self._waiting.clear()
        running = list(self._running)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
