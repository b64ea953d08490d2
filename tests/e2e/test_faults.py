"""Faults injected through the container: the model failing, the blob store failing to write,
the database failing at commit. Each leaves no row pointing at a missing blob and no half-made
actor, answers a clean status, and leaves the request id free for the retry."""

from __future__ import annotations

import errno
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from dependency_injector import providers
from sqlalchemy import column, func, select, table

from casting.adapters.blobs import LocalBlobStore
from casting.adapters.generators.offline import OfflineGenerator
from casting.adapters.sql.engine import create_engine
from casting.adapters.sql.unit_of_work import SqlUnitOfWork
from casting.domain.errors import UpstreamUnavailable
from casting.domain.ports import GeneratedImage, GenerationSpec
from casting.domain.values import ImageBytes
from casting.server.container import Container
from casting.v1 import casting_pb2 as pb
from tests.e2e.rich_errors import details_of
from tests.e2e.test_idempotency import Create, branch_variant, generate_sheet, import_actor, save_actor

TABLES = (
    "sheets",
    "images",
    "characters",
    "character_variants",
    "variant_images",
    "character_reference_images",
    "idempotency_keys",
)
SECRET = "db.internal:5432"  # stands for any internal detail a failure message may carry


class FaultyModel(OfflineGenerator):
    """The offline generator, until given a failure to raise."""

    failure: Exception | None = None

    async def generate(self, spec: GenerationSpec, references: list[ImageBytes]) -> GeneratedImage:
        if self.failure is not None:
            raise self.failure
        return await super().generate(spec, references)


class FaultyBlobs(LocalBlobStore):
    """A blob directory whose writes fail while it holds a failure."""

    failure: Exception | None = None

    async def put(self, data: bytes) -> str:
        if self.failure is not None:
            raise self.failure
        return await super().put(data)


class CommitFails(SqlUnitOfWork):
    """A unit of work whose connection is lost at commit, after the staged rows have reached
    the database inside the transaction."""

    async def commit(self) -> None:
        await self._active().flush()
        raise ConnectionResetError(f"connection to {SECRET} reset during COMMIT")


@contextmanager
def failing(adapter: FaultyModel | FaultyBlobs, failure: Exception) -> Iterator[None]:
    adapter.failure = failure
    try:
        yield
    finally:
        adapter.failure = None


@dataclass
class Faults:
    container: Container
    model: FaultyModel
    blobs: FaultyBlobs

    def model_down(self) -> AbstractContextManager[None]:
        return failing(self.model, UpstreamUnavailable("MODEL_UNAVAILABLE", "the image model is unavailable"))

    def disk_full(self) -> AbstractContextManager[None]:
        return failing(self.blobs, OSError(errno.ENOSPC, f"No space left on device: {SECRET}"))

    def commit_lost(self) -> AbstractContextManager[object]:
        lost = providers.Factory(CommitFails, session_factory=self.container.session_factory)
        return self.container.uow.override(lost)


@pytest.fixture
def blob_root(tmp_path: Path) -> Path:
    return tmp_path / "blobs"  # where the e2e container keeps its blobs


@pytest.fixture
def container(container: Container, blob_root: Path) -> Container:
    """The faulty adapters wired in before the server starts, working until told otherwise."""
    container.model.override(providers.Object(FaultyModel()))
    container.blobs.override(providers.Object(FaultyBlobs(blob_root)))
    return container


@pytest.fixture
def faults(container: Container) -> Faults:
    return Faults(container, container.model(), container.blobs())


@dataclass(frozen=True)
class Stored:
    rows: dict[str, int]
    blob_keys_in_rows: set[str]
    blobs: set[str]


async def stored(database_url: str, blob_root: Path) -> Stored:
    """What the database and the blob directory hold, read outside the server."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = {
                name: (await connection.execute(select(func.count()).select_from(table(name)))).scalar_one()
                for name in TABLES
            }
            blob_keys = select(column("blob_key")).select_from(table("images"))
            keys = set((await connection.execute(blob_keys)).scalars())
    finally:
        await engine.dispose()
    return Stored(rows, keys, blob_files(blob_root))


def blob_files(root: Path) -> set[str]:
    """The keys of the blobs under a blob directory (a temporary file is dot-named)."""
    return {path.name for path in root.rglob("*") if path.is_file() and not path.name.startswith(".")}


def internal(code: grpc.StatusCode = grpc.StatusCode.INTERNAL) -> Callable[[grpc.aio.AioRpcError], None]:
    def check(error: grpc.aio.AioRpcError) -> None:
        details = details_of(error)
        assert (details.code, details.reason, details.message) == (code, "INTERNAL", "internal error")
        assert SECRET not in str(error.details()) + str(error.debug_error_string())

    return check


def model_unavailable(error: grpc.aio.AioRpcError) -> None:
    details = details_of(error)
    assert (details.code, details.reason) == (grpc.StatusCode.UNAVAILABLE, "MODEL_UNAVAILABLE")
    assert details.retry_seconds is not None


CASES = [
    ("model_down", generate_sheet, model_unavailable),
    ("model_down", branch_variant, model_unavailable),
    ("disk_full", generate_sheet, internal()),
    ("disk_full", import_actor, internal()),
    ("disk_full", branch_variant, internal()),
    ("commit_lost", generate_sheet, internal()),
    ("commit_lost", save_actor, internal()),
    ("commit_lost", import_actor, internal()),
    ("commit_lost", branch_variant, internal()),
]


@pytest.mark.parametrize(
    ("fault", "prepare", "check"),
    CASES,
    ids=[f"{fault}-{prepare.__name__}" for fault, prepare, _ in CASES],
)
async def test_a_fault_leaves_no_trace_and_a_clean_status(
    stub,
    faults: Faults,
    database_url: str,
    blob_root: Path,
    fault: str,
    prepare: Callable[..., Awaitable[Create]],
    check: Callable[[grpc.aio.AioRpcError], None],
) -> None:
    create = await prepare(stub)
    before = await stored(database_url, blob_root)
    injected: AbstractContextManager[object] = getattr(faults, fault)()
    with injected, pytest.raises(grpc.aio.AioRpcError) as error:
        await create.call("req-1", False)
    check(error.value)

    after = await stored(database_url, blob_root)
    assert after.rows == before.rows  # nothing half-made, no request id remembered
    assert after.blob_keys_in_rows == before.blob_keys_in_rows
    assert after.blob_keys_in_rows <= after.blobs  # no row points at a missing blob

    # The fault gone, the retry under the same request id makes the resource.
    made = await create.call("req-1", False)
    assert await create.call("req-1", False) == made
    final = await stored(database_url, blob_root)
    assert final.blob_keys_in_rows <= final.blobs


async def test_a_lost_commit_keeps_the_sheet_a_preview(stub, faults: Faults) -> None:
    sheet = await stub.GenerateSheet(
        pb.GenerateSheetRequest(parent="projects/p", story_style="comedy", image_style="chibi")
    )
    save = pb.SaveActorRequest(parent="projects/p", sheet=sheet.name, display_name="Mina")
    with faults.commit_lost(), pytest.raises(grpc.aio.AioRpcError):
        await stub.SaveActor(save)
    assert (await stub.GetSheet(pb.GetSheetRequest(name=sheet.name))).actor == ""
    assert list((await stub.ListActors(pb.ListActorsRequest(parent="projects/p"))).actors) == []
    actor = await stub.SaveActor(save)
    assert (await stub.GetSheet(pb.GetSheetRequest(name=sheet.name))).actor == actor.name
