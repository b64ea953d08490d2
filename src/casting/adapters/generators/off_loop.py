"""A model client on an event loop of its own, in one thread beside the serving loop.

google-genai reads a model's answer (~2.4 MB of JSON for a sheet) on the loop that awaits it,
and the generator parses it there (gemini_answers.py): a few ms of CPU a call. On the serving
loop, a burst of answers arriving together stalled every RPC and every database trip behind
that work. Here the client runs on its own loop: the calls still overlap (it is
one loop, not a pool of threads; the cap on concurrent calls stays BoundedGenerator's), and the
serving loop keeps running between the client's steps while the GIL passes back and forth.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

from casting.domain.ports import GeneratedImage, GenerationSpec
from casting.domain.values import ImageBytes

T = TypeVar("T")


class ClosableGenerator(Protocol):
    async def generate(self, spec: GenerationSpec, references: list[ImageBytes]) -> GeneratedImage: ...

    async def aclose(self) -> None: ...


class OffLoopGenerator:
    """An ImageGenerator that runs every call of `inner` on a loop in its own thread. `inner`
    must open its connections lazily, in its first call (google-genai's async client does), so
    that they belong to that loop. The caller's context (its deadline, its trace) goes with each
    call, and cancelling the caller cancels the call."""

    def __init__(self, inner: ClosableGenerator) -> None:
        self._inner = inner
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="model-client", daemon=True)
        self._thread.start()

    async def generate(self, spec: GenerationSpec, references: list[ImageBytes]) -> GeneratedImage:
        return await self._run(self._inner.generate(spec, references))

    async def aclose(self) -> None:
        """Closes `inner`, then stops the loop and its thread."""
        try:
            await self._run(self._inner.aclose())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join)
            self._loop.close()

    async def _run(self, work: Coroutine[Any, Any, T]) -> T:
        """`work`'s outcome, run on the client's loop in a copy of the caller's context."""
        context = contextvars.copy_context()
        outcome: Future[T] = Future()
        started: list[asyncio.Task[T]] = []

        def start() -> None:
            task = self._loop.create_task(work, context=context)
            task.add_done_callback(lambda finished: _settle(outcome, finished))
            started.append(task)

        def cancel() -> None:
            for task in started:
                task.cancel()

        self._loop.call_soon_threadsafe(start)
        try:
            return await asyncio.wrap_future(outcome)
        except asyncio.CancelledError:
            self._loop.call_soon_threadsafe(cancel)  # runs after start: the loop keeps their order
            raise


def _settle(outcome: Future[T], task: asyncio.Task[T]) -> None:
    if outcome.cancelled():
        return  # the caller gave up, and took the future with it
    if task.cancelled():
        outcome.set_exception(asyncio.CancelledError())
    elif (error := task.exception()) is not None:
        outcome.set_exception(error)
    else:
        outcome.set_result(task.result())
