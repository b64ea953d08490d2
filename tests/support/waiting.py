"""Waiting for what a server does on its own time (a drawing under way, a stream closed, a
process stopping): the state is looked at until it holds, within a bound, never slept on by
the clock."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable


def eventually(condition: Callable[[], object], seconds: float = 20) -> None:
    """Returns once `condition()` holds; fails the test if it has not within `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)


async def until(condition: Callable[[], object | Awaitable[object]], seconds: float = 30) -> None:
    """`eventually` for a test on the event loop: `condition` may be a coroutine function, and
    the loop runs meanwhile."""
    async with asyncio.timeout(seconds):
        while True:
            held = condition()
            if inspect.isawaitable(held):
                held = await held
            if held:
                return
            await asyncio.sleep(0.02)
