"""BlobStore on object storage (S3-compatible in production) through obstore."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, cast

import obstore
from obstore.store import ObjectStore, S3Store

from casting.adapters.blobs.contract import checked_chunk_size, checked_key, is_key, key_of

if TYPE_CHECKING:
    from obstore.store import S3Config

_PIECE_SIZE = 256 * 1024


class ObjectBlobStore:
    """Blobs as objects named by their key. A store built with a prefix keeps them under it.

    A missing key makes `get` and `stream` raise KeyError; `delete` of one does nothing.
    """

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    async def put(self, data: bytes) -> str:
        key = key_of(data)
        # An object store has no "touch", and a conditional create would upload the body
        # anyway. Putting the same bytes again is atomic and harmless under a content
        # address, and it restarts the collector's grace period for a blob about to be
        # referenced again (see LocalBlobStore.put).
        await obstore.put_async(self._store, key, data)
        return key

    async def get(self, key: str) -> bytes:
        result = await self._open(key)
        return bytes(await result.bytes_async())

    async def stream(self, key: str, chunk_size: int) -> AsyncIterator[bytes]:
        checked_chunk_size(chunk_size)
        result = await self._open(key)
        # obstore's pieces are at least min_chunk_size and may be larger, so they are gathered
        # and cut to the caller's bound. Small pieces keep what waits here under one chunk.
        pending = bytearray()
        async for piece in result.stream(min_chunk_size=min(chunk_size, _PIECE_SIZE)):
            pending += piece
            while len(pending) >= chunk_size:
                with memoryview(pending) as view:  # copies the chunk once, not twice
                    chunk = bytes(view[:chunk_size])
                del pending[:chunk_size]
                yield chunk
        if pending:
            yield bytes(pending)

    async def delete(self, key: str) -> None:
        await obstore.delete_async(self._store, checked_key(key))

    async def keys(self) -> AsyncIterator[tuple[str, datetime]]:
        """Every stored key with its last-modified time (UTC), for the garbage collector.
        Objects under the prefix that are not blob keys are not ours and are left out."""
        async for batch in obstore.list(self._store):
            for meta in batch:
                if is_key(meta["path"]):
                    yield meta["path"], meta["last_modified"]

    async def _open(self, key: str) -> obstore.GetResult:
        try:
            return await obstore.get_async(self._store, checked_key(key))
        except FileNotFoundError:  # obstore's "not found", whatever the backend
            raise KeyError(key) from None


# S3Config field: the standard variables that may set it, the first one set winning.
_ENVIRONMENT = {
    "endpoint": ("AWS_ENDPOINT_URL",),
    "region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "access_key_id": ("AWS_ACCESS_KEY_ID",),
    "secret_access_key": ("AWS_SECRET_ACCESS_KEY",),
    "session_token": ("AWS_SESSION_TOKEN",),
}


def s3_blob_store(bucket: str, prefix: str, environ: Mapping[str, str]) -> ObjectBlobStore:
    """An S3 bucket configured by the standard AWS variables. An http:// endpoint (MinIO,
    moto, a sidecar) is allowed explicitly, since obstore refuses plain HTTP by default."""
    config: dict[str, str] = {}
    for field, variables in _ENVIRONMENT.items():
        value = next((environ[name] for name in variables if environ.get(name)), None)
        if value:
            config[field] = value
    store = S3Store(
        bucket,
        prefix=prefix or None,
        config=cast("S3Config", config),
        client_options={"allow_http": config.get("endpoint", "").startswith("http://")},
    )
    return ObjectBlobStore(store)
