"""CollectGarbage: expired previews, request ids past their time-to-live, CastStory operations
past theirs, image rows nothing refers to, and blobs no image row points at.

Rows go first and blobs after, never the reverse. A blob is written before the row that
points at it commits, so a blob goes only when no row points at it AND it is older than a
grace period; `BlobStore.put` refreshes the time of bytes stored again, so the grace counts
from the latest writer, and a blob that is about to be referenced again survives.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from casting.domain.ports import BlobStore, Clock, UnitOfWork
from casting.domain.usecases.idempotency import Idempotency

log = logging.getLogger("casting.collect")

# Blob keys checked against the image rows per query: bounded, so a large store is never
# held whole, and each candidate is deleted soon after the check that cleared it.
BLOB_BATCH = 500


@dataclass(frozen=True, slots=True)
class Collected:
    """How many of each were removed."""

    sheets: int
    request_ids: int
    images: int
    blobs: int
    operations: int = 0


class CollectGarbage:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        blobs: BlobStore,
        idempotency: Idempotency,
        clock: Clock,
        blob_grace: timedelta,
        batch_size: int = BLOB_BATCH,
    ) -> None:
        self._uow = uow
        self._blobs = blobs
        self._idempotency = idempotency
        self._clock = clock
        self._blob_grace = blob_grace
        self._batch_size = batch_size

    async def __call__(self) -> Collected:
        """One collection. Safe to run from several processes at once."""
        now = self._clock.now()
        async with self._uow() as uow:
            sheets = await uow.sheets.delete_expired(now)
            request_ids = await uow.idempotency.delete_expired(self._idempotency.cutoff(now))
            operations = await uow.operations.delete_expired(now)
            # After the sheets, in the same transaction: their images are unreferenced now.
            images = await uow.images.delete_unreferenced()
            await uow.commit()
        blobs = await self._collect_blobs(now - self._blob_grace)
        return Collected(sheets, request_ids, images, blobs, operations)

    async def every(self, interval: timedelta) -> None:
        """Collects every `interval` until cancelled. A failed collection is logged and the
        next one tries again: whatever it missed is still garbage then."""
        while True:
            await asyncio.sleep(interval.total_seconds())
            try:
                collected = await self()
            except Exception:
                log.exception("garbage collection failed; retrying in %s", interval)
            else:
                log.info(json.dumps({"event": "collect", **asdict(collected)}))

    async def _collect_blobs(self, written_before: datetime) -> int:
        removed = 0
        batch: set[str] = set()
        async for key, modified in self._blobs.keys():
            if modified < written_before:
                batch.add(key)
            if len(batch) >= self._batch_size:
                removed += await self._delete_unreferenced(batch)
                batch = set()
        return removed + await self._delete_unreferenced(batch)

    async def _delete_unreferenced(self, keys: set[str]) -> int:
        async with self._uow() as uow:
            unreferenced = keys - await uow.images.referenced_blob_keys(keys)
        for key in unreferenced:
            await self._blobs.delete(key)
        return len(unreferenced)
