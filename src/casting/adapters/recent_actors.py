"""Actors read a moment ago, kept in this process so that a repeated GetActor or GetVariant
costs no database round trip (bench/README.md has the figures)."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Generic, TypeVar

Read = TypeVar("Read")


@dataclass(frozen=True, slots=True)
class _Kept(Generic[Read]):
    expires: float
    project: str
    actor: Read


@dataclass(frozen=True, slots=True)
class _Reading(Generic[Read]):
    """A database read under way, shared by every caller that misses meanwhile."""

    generation: int
    task: asyncio.Future[Read]


class RecentActors(Generic[Read]):
    """Implements domain.ports.ActorCache in memory, for aggregates or their documents.

    This process's commits drop the actors they change (SqlUnitOfWork calls `forget`). A read
    under way when something is dropped is neither kept nor joined by later callers, so a
    caller never reads its own write stale. A change committed by another process (a second
    replica on the same database) shows within `ttl_seconds`; 0 keeps nothing. Callers that
    miss at the same moment share one read, so an expiry under load costs one read, not one
    per caller. Expired actors are let go as new ones come, and past `max_actors` the oldest go.
    """

    def __init__(
        self,
        ttl_seconds: float,
        max_actors: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max_actors = max_actors
        self._now = clock
        self._kept: OrderedDict[str, _Kept[Read]] = OrderedDict()
        self._reading: dict[tuple[str, str], _Reading[Read]] = {}
        # Bumped by every forget(): a read begun under an older generation may have seen the
        # database before a commit.
        self._generation = 0

    async def get(self, project: str, actor_id: str, load: Callable[[], Awaitable[Read]]) -> Read:
        if self._ttl <= 0:
            return await load()
        kept = self._kept.get(actor_id)
        if kept is not None and kept.expires > self._now() and kept.project == project:
            return kept.actor
        key = (project, actor_id)
        reading = self._reading.get(key)
        if reading is None or reading.generation != self._generation:
            reading = _Reading(self._generation, asyncio.ensure_future(load()))
            self._reading[key] = reading
            reading.task.add_done_callback(partial(self._read, key, reading))
        # A caller that gives up (cancelled, past its deadline) leaves the read to the others.
        return await asyncio.shield(reading.task)

    def forget(self, actor_ids: Iterable[str]) -> None:
        self._generation += 1
        for actor_id in actor_ids:
            self._kept.pop(actor_id, None)

    def _read(self, key: tuple[str, str], reading: _Reading[Read], task: asyncio.Future[Read]) -> None:
        if self._reading.get(key) is reading:
            del self._reading[key]
        if task.cancelled() or task.exception() is not None:
            return  # every waiter gets the error; nothing is kept
        if reading.generation == self._generation:
            self._keep(*key, task.result())

    def _keep(self, project: str, actor_id: str, actor: Read) -> None:
        now = self._now()
        self._kept.pop(actor_id, None)  # re-inserted at the young end
        self._kept[actor_id] = _Kept(now + self._ttl, project, actor)
        # One lifetime for all, so the oldest end expires first: nothing stale stays held.
        while self._kept and (
            len(self._kept) > self._max_actors or next(iter(self._kept.values())).expires <= now
        ):
            self._kept.popitem(last=False)
