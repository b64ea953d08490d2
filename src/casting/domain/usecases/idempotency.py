"""Idempotent creates (AIP-155): a retried request_id returns what the first call made.

Concurrent duplicates in one process wait for the first (one model call, not two); across
processes the unique key in storage lets only one commit. A request id is remembered for a
time-to-live; after it, the id is free again (the collector removes the old record, and the
next create under the id removes it first if the collector has not come by yet).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, TypeVar

from casting.domain.errors import FieldViolation, InvalidInput
from casting.domain.ports import Clock, IdempotencyRecord, UnitOfWork

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Long enough for a client's retries to outlast a bad night; the server's setting overrides it.
DEFAULT_TTL = timedelta(hours=24)


Result = TypeVar("Result")


@dataclass(frozen=True, slots=True)
class RequestKey:
    """What identifies one create for replay: where, which operation, the caller's request id,
    and a digest of what was asked (so a reused id with another request is refused)."""

    project: str
    operation: str
    request_id: str
    fingerprint: str


def request_key(operation: str, command: Any) -> RequestKey:
    """The key of a create command, which carries `project` and `request_id` fields."""
    return RequestKey(command.project, operation, command.request_id, fingerprint(command))


def fingerprint(command: Any) -> str:
    """A digest of a command's fields except request_id; bytes count by their own digest."""
    digest = hashlib.sha256()
    for f in fields(command):
        if f.name == "request_id":
            continue
        value = getattr(command, f.name)
        shown = hashlib.sha256(value).hexdigest() if isinstance(value, bytes) else repr(value)
        digest.update(f"{f.name}={shown};".encode())
    return digest.hexdigest()


def request_id_violations(request_id: str) -> list[FieldViolation]:
    if request_id and not _REQUEST_ID.fullmatch(request_id):
        return [FieldViolation("request_id", "must be 1-64 characters of [A-Za-z0-9._-], ideally a UUID")]
    return []


class Idempotency:
    """Remembers creates by (project, operation, request_id), for `ttl`."""

    def __init__(self, clock: Clock, ttl: timedelta = DEFAULT_TTL) -> None:
        self._clock = clock
        self._ttl = ttl
        # key -> (lock, number of calls holding or waiting for it)
        self._in_flight: dict[tuple[str, str, str], tuple[asyncio.Lock, int]] = {}

    def cutoff(self, now: datetime) -> datetime:
        """Records created at or before this moment have expired."""
        return now - self._ttl

    async def create_once(
        self,
        uow: Callable[[], UnitOfWork],
        key: RequestKey,
        replay: Callable[[UnitOfWork, str, str], Awaitable[Result]],
        create: Callable[[], Awaitable[Result]],
    ) -> Result:
        """`create()`, unless an earlier identical call under the same request id made a
        resource: then `replay(uow, project, its id)`. `create` must `remember` what it made,
        in the transaction that makes it."""
        async with self._single_flight(key):
            async with uow() as unit:
                earlier = await self._replayed(unit, key)
                if earlier is not None:
                    return await replay(unit, key.project, earlier)
            return await create()

    async def remember(self, uow: UnitOfWork, key: RequestKey, resource_id: str) -> None:
        if key.request_id:
            record = IdempotencyRecord(
                key.project, key.operation, key.request_id, key.fingerprint, resource_id, self._clock.now()
            )
            await uow.idempotency.add(record)

    @asynccontextmanager
    async def _single_flight(self, key: RequestKey) -> AsyncIterator[None]:
        """Serialises calls that share a request id, so the later ones can replay the first."""
        if not key.request_id:
            yield
            return
        slot = (key.project, key.operation, key.request_id)
        lock, users = self._in_flight.get(slot, (asyncio.Lock(), 0))
        self._in_flight[slot] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._in_flight[slot]
            if users == 1:
                del self._in_flight[slot]
            else:
                self._in_flight[slot] = (lock, users - 1)

    async def _replayed(self, uow: UnitOfWork, key: RequestKey) -> str | None:
        """The id of the resource an earlier identical call made, if one did within the TTL."""
        if not key.request_id:
            return None
        record = await uow.idempotency.get(key.project, key.operation, key.request_id)
        if record is None:
            return None
        cutoff = self.cutoff(self._clock.now())
        if record.create_time <= cutoff:
            # Expired but not collected yet: it must not block the create. Removed here, in
            # the rare case, so that every create's own transaction only inserts.
            await uow.idempotency.delete_expired(cutoff, (key.project, key.operation, key.request_id))
            await uow.commit()
            return None
        if record.fingerprint != key.fingerprint:
            raise InvalidInput.field("request_id", "was already used for a different request")
        return record.resource_id
