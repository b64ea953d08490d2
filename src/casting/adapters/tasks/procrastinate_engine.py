"""The casting engine on PostgreSQL: each role's step is a procrastinate job, and every replica
runs a procrastinate worker inside its event loop.

- A job per (operation, role), deferred with that key as its `queueing_lock` (a role waits in
  the queue once) and its `lock` (two runs of one role never overlap).
- A replica killed mid-step leaves its job `doing` under a worker whose heartbeat stops; every
  replica looks for such stalled jobs and hands them back to the queue (procrastinate's
  documented recipe), so another replica finishes the role. The step is idempotent, so the
  retried run replays what the dead one stored.
- A replica stopped gracefully gives its steps the grace period, then aborts them; every replica
  also hands the engine the roles still without an outcome now and then (`resume`), which
  picks those up, and whatever else fell between the operation's commit and its jobs.
- Jobs are taken by priority, the role's position in its operation negated, then in order.
- An exception that escapes a step (the database gone a moment) is retried with backoff; errors
  of the role itself are the step's outcome, not the job's failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued, UniqueViolation
from sqlalchemy import make_url

log = logging.getLogger("casting.tasks")

Step = Callable[[str, str, int], Awaitable[None]]
Resume = Callable[[], Awaitable[int]]

QUEUE = "casting"
TASK = "casting.cast_role"


def conninfo(database_url: str) -> str:
    """The libpq connection string (for psycopg) of the service's SQLAlchemy database URL."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def apply_schema(database_url: str) -> None:
    """Creates procrastinate's tables and functions (its own schema, not alembic's) once."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(database_url)))
    async with app.open_async():
        found = await app.connector.execute_query_one_async(
            "SELECT to_regclass('procrastinate_jobs') AS found"
        )
        if found["found"] is None:
            await app.schema_manager.apply_schema_async()


class ProcrastinateEngine:
    """Implements domain.ports.CastingEngine on procrastinate; `start()` opens its connection pool
    and starts this replica's worker, `aclose()` stops both."""

    def __init__(
        self,
        database_url: str,
        step: Step,
        workers: int,
        heartbeat_seconds: float,
        stalled_seconds: float,
        grace_seconds: float,
    ) -> None:
        self._app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(conninfo=conninfo(database_url))
        )
        self._workers = workers
        self._heartbeat = heartbeat_seconds
        self._stalled = stalled_seconds
        self._grace = grace_seconds
        self._background: list[asyncio.Task[None]] = []
        self._resume: Resume | None = None

        @self._app.task(
            name=TASK, queue=QUEUE, retry=procrastinate.RetryStrategy(max_attempts=10, exponential_wait=1)
        )
        async def cast_role(project: str, operation_id: str, role: int) -> None:
            await step(project, operation_id, role)

        self._task = cast_role

    async def start(self, resume: Resume) -> None:
        await self._app.open_async()
        self._resume = resume
        self._background = [
            asyncio.create_task(
                self._app.run_worker_async(
                    queues=[QUEUE],
                    concurrency=self._workers,
                    install_signal_handlers=False,
                    update_heartbeat_interval=self._heartbeat,
                    stalled_worker_timeout=self._stalled,
                    shutdown_graceful_timeout=self._grace,
                    delete_jobs="successful",
                ),
                name="casting worker",
            ),
            asyncio.create_task(self._recover(), name="casting recovery"),
        ]

    async def enqueue(self, project: str, operation_id: str, roles: list[int]) -> None:
        for role in roles:
            key = f"cast:{operation_id}:{role}"
            # Earlier roles of any operation first: a story started behind a long batch is cast
            # among it, not after it.
            deferrer = self._task.configure(lock=key, queueing_lock=key, priority=-role)
            with contextlib.suppress(AlreadyEnqueued):  # waiting in the queue already
                await deferrer.defer_async(project=project, operation_id=operation_id, role=role)

    async def _recover(self) -> None:
        """Resumes unfinished roles now and every `stalled_seconds`; every heartbeat, hands back
        to the queue the jobs of workers whose heartbeat stopped (a dead replica)."""
        loop = asyncio.get_running_loop()
        resumed_at = -float("inf")
        while True:
            try:
                if loop.time() - resumed_at >= self._stalled:
                    resumed_at = loop.time()
                    await self._resume()
                stalled = await self._app.job_manager.get_stalled_jobs(
                    queue=QUEUE, seconds_since_heartbeat=self._stalled
                )
                for job in stalled:
                    await self._retry(job)
            except Exception:
                # Another replica may have retried it first, or the database blinked: next round.
                log.exception("could not recover casting jobs")
            await asyncio.sleep(self._heartbeat)

    async def _retry(self, job: procrastinate.jobs.Job) -> None:
        log.warning("retrying casting job %s: its worker stopped answering", job.id)
        try:
            await self._app.job_manager.retry_job(job)
        except UniqueViolation:
            # A resume already queued the role again, and waits for this job's lock: ending
            # this one lets that one run.
            await self._app.job_manager.finish_job(
                job, status=procrastinate.jobs.Status.ABORTED, delete_job=False
            )

    async def aclose(self) -> None:
        """Stops the worker (steps under way get the grace period, then run again elsewhere)."""
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background = []
        await self._app.close_async()
