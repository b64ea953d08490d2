"""How busy the machine's cores are while a burst runs, from /proc/stat sampled by a process of
its own: a thread in the bench's process, which is the in-process server's, took the GIL from its
event loop 100 times a second (a first burst of the real client measured ~0.1x longer with it).

A burst's calls all wait ~1 s for the model, then every answer arrives at once: what follows is
work for the cores (taking the answers in, checking, storing, replying), done by every process
on the machine (the service, the stand-in, the load generator, PostgreSQL). When the cores are
busy through it, the burst is as short as the CPU a call needs allows, and only less CPU per call
(or more cores) makes it shorter.
"""

from __future__ import annotations

import bisect
import os
import time
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from types import TracebackType
from typing import Self

SAMPLE_SECONDS = 0.01
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
# /proc/stat's first line: cpu user nice system idle iowait irq softirq steal guest guest_nice;
# guest time is counted in user time already.
_FIELDS = 8
_IDLE_FIELDS = (3, 4)


@dataclass(frozen=True)
class Busy:
    """What the cores did in the windows from the answers to the last reply of each burst."""

    cores: float  # cores busy on average, of os.cpu_count()
    cpu_ms_per_call: float  # CPU every process spent in the windows, per call


class CoreSampler:
    """Busy CPU-seconds of the whole machine, sampled every SAMPLE_SECONDS while entered."""

    def __init__(self) -> None:
        self._times: list[float] = []
        self._busy: list[float] = []
        context = get_context("spawn")
        self._started, self._stop = context.Event(), context.Event()
        self._samples, self._sender = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_sample, args=(self._started, self._stop, self._sender), name="core-sampler", daemon=True
        )

    def __enter__(self) -> Self:
        self._process.start()
        self._sender.close()  # the sampler's end: a sampler that dies then ends recv() with EOFError
        if not self._started.wait(60):
            raise RuntimeError("the core sampler did not start")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._times, self._busy = self._samples.recv()
        self._process.join()

    def after_answers(
        self, starts: list[float], walls: list[float], model_seconds: float, calls: int
    ) -> Busy:
        """The cores over each burst's window from `model_seconds` after its start (wall-clock
        `time.time()`, as the load process took it) to its end."""
        windows = [(start + model_seconds, start + wall) for start, wall in zip(starts, walls, strict=True)]
        busy = sum(self._busy_at(end) - self._busy_at(begin) for begin, end in windows)
        seconds = sum(end - begin for begin, end in windows)
        return Busy(cores=busy / seconds, cpu_ms_per_call=busy * 1000 / (calls * len(windows)))

    def _busy_at(self, moment: float) -> float:
        """Busy CPU-seconds by `moment`, from the nearest sample before it."""
        index = max(0, bisect.bisect_right(self._times, moment) - 1)
        return self._busy[index]


def _sample(started: Event, stop: Event, sender: Connection) -> None:
    """The sampling process's body: (times, busy CPU-seconds) sent once `stop` is set."""
    times: list[float] = []
    busy: list[float] = []
    stat = os.open("/proc/stat", os.O_RDONLY)
    try:
        started.set()
        while not stop.is_set():
            # Read afresh each time: a buffered file would answer its first read again.
            first_line = os.pread(stat, 256, 0).split(b"\n", 1)[0]
            ticks = [int(field) for field in first_line.split()[1 : 1 + _FIELDS]]
            idle = sum(ticks[i] for i in _IDLE_FIELDS)
            times.append(time.time())
            busy.append((sum(ticks) - idle) / _TICKS_PER_SECOND)
            stop.wait(SAMPLE_SECONDS)
    finally:
        os.close(stat)
    sender.send((times, busy))
