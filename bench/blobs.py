"""A new sheet kept by the local blob store, beside a bare durable write of the same bytes.

`put` hashes the sheet, writes it to a temporary file, syncs it, renames it and syncs the
directory, then lets the page cache drop its pages (LocalBlobStore). The baseline writes the
same bytes to new files and syncs them, keeping the pages, as a plain durable write does. They
take turns by rounds, not by call: the pages one drops would be the other's next ones. Where
growing the cache is dear (on the bench's VM, while its host has taken back the memory the
guest freed, each new page costs a fault in the host) the baseline slows round after round and
put, which reuses its own pages, does not: the ratio then falls below 1. Otherwise it shows what
put's hash, rename and second sync cost beside the bare write."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from itertools import count
from pathlib import Path

from bench.harness import stamped
from bench.report import Report, ms, percentile
from casting.adapters.blobs.local import LocalBlobStore

SECTION = "blobs"
ROUNDS = 3
PAUSE_SECONDS = 3.0


async def blobs(report: Report, png: bytes, calls: int) -> None:
    print(
        f"\n[{SECTION}] {ROUNDS} rounds: {calls} new {len(png) / 1e6:.1f} MB sheets written and synced,"
        f" their pages kept; then {calls} put"
    )
    with tempfile.TemporaryDirectory(prefix="casting-bench-") as tmp:
        store = LocalBlobStore(Path(tmp) / "blobs")
        bare = Path(tmp) / "bare"
        bare.mkdir()
        stamps = count()

        async def write_kept(sheet: bytes) -> None:
            await asyncio.to_thread(_write_kept, bare / str(next(stamps)), sheet)

        for round_ in range(1, ROUNDS + 1):
            # The VM hands memory back to its host ~2 s after it is freed (free page reporting):
            # after a pause, what earlier sections freed is untouched again, as it is for a
            # server that has run a while.
            await asyncio.sleep(PAUSE_SECONDS)
            baseline = percentile(await _timed(write_kept, png, stamps, calls), 50)
            put = percentile(await _timed(store.put, png, stamps, calls), 50)
            report.add(SECTION, f"round {round_}: put p50", ms(put), "ms", f"baseline {ms(baseline)} ms")
            report.add(SECTION, f"round {round_}: put / baseline", put / baseline, "x",
                       "< 1 where growing the cache is dear")  # fmt: skip


async def _timed(
    write: Callable[[bytes], Awaitable[object]], png: bytes, stamps: count[int], calls: int
) -> list[float]:
    """Seconds of each of `calls` writes of a new sheet (stamped, outside the timing)."""
    seconds = []
    for _ in range(calls):
        sheet = stamped(png, next(stamps))
        started = time.perf_counter()
        await write(sheet)
        seconds.append(time.perf_counter() - started)
    return seconds


def _write_kept(path: Path, data: bytes) -> None:
    with path.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
