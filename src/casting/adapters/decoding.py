"""Where untrusted images are decoded: threads of their own, and a memory budget they share.

A 152 KB PNG can decode to 40 megapixels (+600 MB of RSS with every copy the re-encoding made),
so decodes are admitted by what they will hold, estimated from the header before any pixel is
decoded, and run on a pool of their own: a queue of them never holds up a blob read or a SQLite
statement, which use the loop's default pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from casting.domain.errors import InvalidImage

T = TypeVar("T")
MIB = 1024 * 1024


class DecodingPool:
    """Runs decodes on `threads` threads, with at most `budget_bytes` of their estimated memory
    in use at once. A decode waits its turn for room (first come, first served); one that could
    never fit is InvalidImage at once. Its room is given back when its thread is done, not when
    its caller stops waiting."""

    def __init__(self, budget_bytes: int, threads: int) -> None:
        self.budget_bytes = budget_bytes
        self._units = max(1, budget_bytes // MIB)
        self._room = asyncio.Semaphore(self._units)  # one unit per MiB of the budget
        self._turn = asyncio.Lock()  # one taker at a time: two half-served takers cannot deadlock
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="casting-decode")

    async def run(self, cost_bytes: int, decode: Callable[[], T]) -> T:
        """`decode()` on a pool thread once `cost_bytes` of the budget are free."""
        units = -(-cost_bytes // MIB)
        if units > self._units:
            raise InvalidImage(
                f"the image is too large to decode within this server's {self._units} MiB budget"
            )
        loop = asyncio.get_running_loop()
        taken = 0
        try:
            async with self._turn:
                for _ in range(units):
                    await self._room.acquire()
                    taken += 1
            work = self._executor.submit(decode)
        except BaseException:
            self._give_back(taken)
            raise
        work.add_done_callback(lambda _: loop.call_soon_threadsafe(self._give_back, units))
        return await asyncio.wrap_future(work)

    def _give_back(self, units: int) -> None:
        for _ in range(units):
            self._room.release()

    def close(self) -> None:
        """Waits for the decodes under way; no new one starts."""
        self._executor.shutdown(wait=True, cancel_futures=True)
