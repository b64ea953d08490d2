"""`casting serve` from several processes (CASTING_PROCESSES), all answering on one gRPC port.

One process runs Python under one GIL: a burst of model answers (megabytes of JSON each to
parse, then hashing, SQL and gRPC) queues on one core however many the machine has. Here the
parent starts N children, each a whole `casting serve` of its own, and supervises them; every
child binds the same gRPC port (and health port) with SO_REUSEPORT, which gRPC sets on Linux,
so the kernel spreads new connections across them. The parent serves nothing itself.

What the children share and what they do not:
- gRPC and CASTING_HEALTH_PORT: one port, every child on it (a probe reaches any one of them).
- The console (CASTING_CONSOLE_PORT) and the garbage collector run in the first child only: a
  session sealed by one process must be opened by the same one when the key is per process,
  and one collector is enough.
- Metrics: each child has its own registry, so each its own port, CASTING_METRICS_PORT + i.
- PostgreSQL only: the cap on model calls, idempotency and CastStory's steps then hold across
  the children as they do across replicas. On SQLite, writers in other processes would sleep in
  SQLite's busy handler (write_turns.py queues only those of one process) and each child would
  resume the same interrupted CastStory roles.

SIGTERM or SIGINT to the parent goes to every child, each draining as a single process does;
the parent exits once all have, 0 if all exited 0. A child that exits on its own (a crash)
stops the others the same way and the parent exits non-zero, for the service manager to start
it again: restarting a child in a loop would hide a fault that recurs.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from types import FrameType

from casting.server.settings import Settings

log = logging.getLogger("casting.server")


def refusal(settings: Settings) -> str | None:
    """Why these settings cannot serve from several processes; None when they can."""
    if not settings.on_postgresql:
        return "CASTING_PROCESSES above 1 needs PostgreSQL (CASTING_DATABASE_URL)"
    if settings.port == 0:
        return "CASTING_PROCESSES above 1 needs a fixed CASTING_PORT for the processes to share"
    return None


def child_environment(settings: Settings, index: int, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of child `index`: the parent's, as one process, with the ports and
    duties that only one process may have given to the first."""
    env = dict(environ) | {"CASTING_PROCESSES": "1"}
    if index > 0:
        env |= {"CASTING_CONSOLE_PORT": "0", "CASTING_COLLECT_INTERVAL_SECONDS": "0"}
    if settings.metrics_port:
        env["CASTING_METRICS_PORT"] = str(settings.metrics_port + index)
    return env


def serve_processes(settings: Settings) -> int:
    """Runs settings.processes children of `casting serve` until they have all exited; the exit
    status for the parent."""
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "casting.server.cli", "serve"],
            env=child_environment(settings, index, os.environ),
        )
        for index in range(settings.processes)
    ]
    log.info("casting serving from %d processes: %s", len(children), " ".join(str(c.pid) for c in children))
    running = {child.pid: child for child in children}
    stopping = False

    def stop(_signum: int = signal.SIGTERM, _frame: FrameType | None = None) -> None:
        nonlocal stopping
        stopping = True
        for pid in running:  # not reaped yet, so the pid is still the child's
            os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 0
    while running:
        pid, wait_status = os.waitpid(-1, 0)
        child = running.pop(pid, None)
        if child is None:
            continue
        # Reaped here, so Popen must not wait for it again: give it the code.
        child.returncode = code = os.waitstatus_to_exitcode(wait_status)
        if code != 0 and status == 0:
            status = code if code > 0 else 1
        if not stopping:
            log.error("casting process %d exited (%d) unasked: stopping the others", pid, code)
            status = status or 1
            stop()
    return status
