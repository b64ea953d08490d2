"""Both BlobStore adapters against the same contract: a local directory and S3 (moto)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tracemalloc
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest

from casting.adapters.blobs import LocalBlobStore, ObjectBlobStore, blob_store_from_url
from casting.adapters.blobs.contract import key_of
from tests.support.s3 import S3Bucket

MiB = 1024 * 1024
Store = LocalBlobStore | ObjectBlobStore


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    # Built through the URL factory, as the server builds them from CASTING_BLOB_URL.
    if request.param == "local":
        built = blob_store_from_url(f"file://{tmp_path}/blobs")
    else:
        bucket: S3Bucket = request.getfixturevalue("s3_bucket")
        built = blob_store_from_url(bucket.url(), bucket.environ())
    assert isinstance(built, LocalBlobStore | ObjectBlobStore)
    return built


async def listed(store: Store) -> dict[str, datetime]:
    return {key: modified async for key, modified in store.keys()}  # noqa: SIM118 (not a dict)


async def test_put_returns_the_sha256_of_the_bytes(store: Store) -> None:
    assert await store.put(b"sheet") == hashlib.sha256(b"sheet").hexdigest()


async def test_get_round_trips(store: Store) -> None:
    data = os.urandom(100_000)
    assert await store.get(await store.put(data)) == data


async def test_put_is_idempotent_even_when_concurrent(store: Store) -> None:
    data = os.urandom(300_000)
    keys = await asyncio.gather(*(store.put(data) for _ in range(8)))
    assert set(keys) == {hashlib.sha256(data).hexdigest()}
    assert await store.put(data) == keys[0]
    assert list(await listed(store)) == [keys[0]]
    assert await store.get(keys[0]) == data


async def test_stream_yields_bounded_chunks_of_the_whole(store: Store) -> None:
    data = os.urandom(3 * MiB + MiB // 2)
    key = await store.put(data)
    chunks = [chunk async for chunk in store.stream(key, MiB)]
    assert all(0 < len(chunk) <= MiB for chunk in chunks)
    assert len(chunks) == 4
    assert b"".join(chunks) == data


async def test_streaming_a_large_blob_never_holds_it_whole(store: Store) -> None:
    data = os.urandom(20 * MiB)
    key = await store.put(data)
    digest = hashlib.sha256()
    # tracemalloc sees what Python allocates: every chunk the adapter buffers or hands out.
    # A few chunks may be alive at once (the caller's, the next one, a piece being cut);
    # the object never is.
    tracemalloc.start()
    try:
        async for chunk in store.stream(key, MiB):
            digest.update(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digest.hexdigest() == key
    assert peak < 6 * MiB, f"peak {peak / MiB:.1f} MiB while streaming 20 MiB"


async def test_deleted_blob_is_gone(store: Store) -> None:
    key = await store.put(b"short-lived")
    await store.delete(key)
    with pytest.raises(KeyError):
        await store.get(key)
    with pytest.raises(KeyError):
        await anext(store.stream(key, MiB))
    assert await listed(store) == {}
    await store.delete(key)  # deleting what is not there is fine


async def test_keys_lists_every_blob_with_its_time(store: Store) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    stored = {await store.put(f"blob {n}".encode()) for n in range(5)}
    found = await listed(store)
    assert set(found) == stored
    for modified in found.values():
        assert modified.utcoffset() == timedelta(0)
        assert before <= modified <= datetime.now(UTC) + timedelta(seconds=5)


@pytest.mark.parametrize(
    "key",
    ["../etc/passwd", "", "0" * 63, "A" * 64, "g" * 64, "0" * 64 + "/x", "../" + "0" * 61],
)
async def test_anything_but_a_key_is_refused(store: Store, key: str) -> None:
    with pytest.raises(ValueError, match="not a blob key"):
        await store.get(key)
    with pytest.raises(ValueError, match="not a blob key"):
        await anext(store.stream(key, MiB))
    with pytest.raises(ValueError, match="not a blob key"):
        await store.delete(key)


async def test_local_put_of_a_stored_blob_only_touches_it(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    key = await store.put(b"kept")
    path = tmp_path / key[:2] / key[2:4] / key
    os.utime(path, (0, 0))
    inode = path.stat().st_ino
    await store.put(b"kept")
    # Not rewritten (same file), but its time restarts the collector's grace period.
    assert path.stat().st_ino == inode
    assert path.stat().st_mtime > 0


async def test_local_write_cut_short_leaves_no_blob(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalBlobStore(tmp_path)

    def crash(*_: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        await store.put(b"half")
    monkeypatch.undo()
    files = await asyncio.to_thread(lambda: [p for p in tmp_path.rglob("*") if p.is_file()])
    assert files == []  # neither the blob nor its temporary file
    key = hashlib.sha256(b"half").hexdigest()
    with pytest.raises(KeyError):
        await store.get(key)


async def test_local_temporary_left_by_a_killed_writer_is_not_a_blob(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    key = hashlib.sha256(b"interrupted").hexdigest()
    directory = tmp_path / key[:2] / key[2:4]
    directory.mkdir(parents=True)
    (directory / f".{key}.x1y2.tmp").write_bytes(b"interr")
    assert await listed(store) == {}
    with pytest.raises(KeyError):
        await store.get(key)
    assert await store.put(b"interrupted") == key
    assert await store.get(key) == b"interrupted"


def record_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """What every os.fsync from here on reaches, by path, in order (the fsync still happens)."""
    synced: list[Path] = []
    fsync = os.fsync

    def recording(descriptor: int) -> None:
        synced.append(Path(os.readlink(f"/proc/self/fd/{descriptor}")))
        fsync(descriptor)

    monkeypatch.setattr(os, "fsync", recording)
    return synced


def key_beside(key: str) -> bytes:
    """Bytes whose key falls in the same directory as `key`'s."""
    return next(data for i in count() if key_of(data := str(i).encode())[:4] == key[:4])


async def test_local_put_makes_the_directories_it_creates_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Power lost after a put returns must not lose the blob. The file's fsync makes its bytes
    # durable and the directory's its name, but a directory made for it is an entry in the one
    # above, which only that directory's fsync makes durable.
    root = tmp_path / "blobs"
    store = LocalBlobStore(root)
    synced = record_fsyncs(monkeypatch)
    key = await store.put(b"first")
    top, leaf = root / key[:2], root / key[:2] / key[2:4]
    assert synced[0].parent == leaf  # the temporary file, before its rename
    assert synced[1:] == [leaf, top, root, tmp_path]

    synced.clear()
    beside = await store.put(key_beside(key))
    assert synced[0].parent == leaf
    assert synced[1:] == [leaf]  # nothing new above it: nothing more to sync
    assert {path.name for path in leaf.iterdir()} == {key, beside}


async def test_s3_prefix_keeps_stores_apart_and_foreign_objects_out(s3_bucket: S3Bucket) -> None:
    first = blob_store_from_url(s3_bucket.url("one"), s3_bucket.environ())
    second = blob_store_from_url(s3_bucket.url("two"), s3_bucket.environ())
    assert isinstance(first, ObjectBlobStore) and isinstance(second, ObjectBlobStore)
    key = await first.put(b"only in one")
    s3_bucket.put_object("one/notes/readme.txt", b"not a blob")
    assert list(await listed(first)) == [key]
    assert await listed(second) == {}
    with pytest.raises(KeyError):
        await second.get(key)


async def test_file_urls_and_plain_paths_name_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    key = hashlib.sha256(b"where").hexdigest()
    for url, root in [
        (f"file://{tmp_path}/a", "a"),
        (f"file://localhost{tmp_path}/b", "b"),
        ("file://./c", "c"),
        ("d/e", "d/e"),
        (f"{tmp_path}/f", "f"),
    ]:
        await blob_store_from_url(url).put(b"where")
        assert (tmp_path / root / key[:2] / key[2:4] / key).read_bytes() == b"where", url


@pytest.mark.parametrize("url", ["ftp://host/x", "s3:///no-bucket", "file://host/x", "gs://b"])
def test_unknown_blob_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="blob URL"):
        blob_store_from_url(url)
