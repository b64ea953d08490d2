"""BlobStore on a local directory: one file per blob at root/ab/cd/<key>."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from casting.adapters.blobs.contract import checked_chunk_size, checked_key, is_key, key_of


class LocalBlobStore:
    """Blobs as files under `root`. Two levels of fan-out keep every directory small.

    A missing key makes `get` and `stream` raise KeyError; `delete` of one does nothing.
    """

    def __init__(self, root: Path) -> None:
        self._root = root

    async def put(self, data: bytes) -> str:
        return await asyncio.to_thread(self._put, data)

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise KeyError(key) from None

    async def stream(self, key: str, chunk_size: int) -> AsyncIterator[bytes]:
        checked_chunk_size(chunk_size)
        path = self._path(key)
        try:
            file = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise KeyError(key) from None
        try:
            while chunk := await asyncio.to_thread(file.read, chunk_size):
                yield chunk
        finally:
            file.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def keys(self) -> AsyncIterator[tuple[str, datetime]]:
        """Every stored key with its last-modified time (UTC), for the garbage collector.
        Listed one top-level directory at a time so a large store is never held whole."""
        for top in await asyncio.to_thread(_subdirectories, self._root):
            for found in await asyncio.to_thread(_blobs_under, top):
                yield found

    def _path(self, key: str) -> Path:
        key = checked_key(key)
        return self._root / key[:2] / key[2:4] / key

    def _put(self, data: bytes) -> str:
        key = key_of(data)
        path = self._path(key)
        try:
            # Same key, same bytes: no rewrite. Touching it restarts the collector's grace
            # period, so a blob that is about to be referenced again is not collected under
            # the row that is about to commit.
            os.utime(path)
        except FileNotFoundError:
            _write_atomically(path, data)
        return key


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers see the whole file under `path` or none: the bytes go to a temporary file in
    the same directory (same filesystem, so the rename is atomic), reach the disk, and only
    then take the final name. A crash leaves at most a dot-named temporary file, which is
    never a key."""
    made = _make_directories(path.parent)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
            _drop_from_cache(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    # The rename lives in the directory, and a directory made for it in the one above: the
    # file's own fsync makes neither durable. Deepest first: its sync usually carries the
    # others' entries to disk with it.
    for directory in [path.parent, *(new.parent for new in reversed(made))]:
        _sync_directory(directory)


def _make_directories(directory: Path) -> list[Path]:
    """Makes `directory` and whichever of its parents are missing, outermost first; returns
    those it found missing (one made by a put beside this one counts: its entry may not be on
    disk yet). One stat when `directory` is there."""
    if directory.is_dir():
        return []
    missing = _make_directories(directory.parent)
    with contextlib.suppress(FileExistsError):
        directory.mkdir()
    return [*missing, directory]


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _drop_from_cache(fd: int) -> None:
    """Lets the page cache drop a blob once it is on disk. A blob is written once and read
    seldom (a preview viewed, a look branched from): one read from disk then costs less than a
    cache that grows by every blob, and the pages given back hold the database and the next
    blob. Growing the cache can be dear: on the bench's VM, while its host had taken back the
    memory the guest had freed, a new 1.5 MB sheet took 6-8 ms to put with its pages kept and
    3.5 ms with them dropped; at other times the two cost the same (bench/README.md)."""
    if hasattr(os, "posix_fadvise"):  # not on macOS
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


def _subdirectories(directory: Path) -> list[Path]:
    try:
        with os.scandir(directory) as entries:
            return sorted(Path(entry.path) for entry in entries if entry.is_dir())
    except FileNotFoundError:
        return []


def _blobs_under(top: Path) -> list[tuple[str, datetime]]:
    found = []
    for directory in _subdirectories(top):
        with os.scandir(directory) as entries:
            for entry in entries:
                if not is_key(entry.name):
                    continue
                try:
                    modified = entry.stat().st_mtime
                except FileNotFoundError:  # deleted since the directory was read
                    continue
                found.append((entry.name, datetime.fromtimestamp(modified, UTC)))
    return found
