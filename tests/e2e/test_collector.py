"""Garbage collection against the real server's storage: in the server, and as `casting collect`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from dependency_injector import providers

from casting.server.container import Container
from casting.server.main import running
from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.e2e.rich_errors import details_of
from tests.e2e.test_faults import blob_files
from tests.e2e.test_idempotency import ShiftedClock
from tests.unit.fakes import png

P = "projects/studio-1"
SHEET_TTL = timedelta(hours=24)  # the settings' default
BLOB_GRACE = timedelta(hours=1)  # the settings' default


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture
def blob_root(tmp_path: Path) -> Path:
    return tmp_path / "blobs"  # where the e2e container keeps its blobs


@pytest.fixture
def container(container: Container, clock: ShiftedClock) -> Container:
    container.clock.override(providers.Object(clock))
    return container


@pytest.fixture
def collect(container: Container, server) -> Callable[[], Awaitable[dict[str, int]]]:
    """One collection by the running server's own collector."""

    async def once() -> dict[str, int]:
        collected = await container.collect_garbage()()
        return {"sheets": collected.sheets, "images": collected.images, "blobs": collected.blobs}

    return once


async def sheet(stub, hair: str, request_id: str = "") -> pb.Sheet:
    """A preview; the offline drawing differs by hair, so each hair is its own blob."""
    traits = pb.Traits(gender=pb.GENDER_FEMALE, age_range=pb.AGE_RANGE_TEEN, hair_traits=hair)
    request = pb.GenerateSheetRequest(
        parent=P, story_style="romance", image_style="webtoon", traits=traits, request_id=request_id
    )
    return await stub.GenerateSheet(request)


async def readable(stub, image: pb.Image) -> bool:
    try:
        chunks = [chunk async for chunk in stub.ReadImage(pb.ReadImageRequest(name=image.name))]
    except grpc.aio.AioRpcError as error:
        assert details_of(error).code == grpc.StatusCode.NOT_FOUND
        return False
    return chunks[0].sha256 == image.sha256


async def test_expired_previews_go_and_everything_in_use_stays(
    stub, collect, clock: ShiftedClock, blob_root: Path
) -> None:
    expired = await sheet(stub, "short black bob")
    saved = await sheet(stub, "red curls")
    actor = await stub.SaveActor(pb.SaveActorRequest(parent=P, sheet=saved.name, display_name="Mina"))
    look = await stub.BranchVariant(
        pb.BranchVariantRequest(
            base_variant=actor.default_variant, trait_changes=pb.TraitChanges(outfit="red coat")
        )
    )
    # The same picture imported twice: one blob, two image rows; one of the actors goes.
    twins = [
        await stub.ImportActor(pb.ImportActorRequest(parent=P, image_content=png(45, 80), display_name=name))
        for name in ("Twin", "Gone twin")
    ]
    await stub.DeleteActor(pb.DeleteActorRequest(name=twins[1].name))
    clock.advance(SHEET_TTL + BLOB_GRACE + timedelta(seconds=1))
    live = await sheet(stub, "blonde braid")  # its blob is written now, but a live sheet holds it

    assert await collect() == {"sheets": 1, "images": 2, "blobs": 1}

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.GetSheet(pb.GetSheetRequest(name=expired.name))
    assert details_of(error.value).code == grpc.StatusCode.NOT_FOUND
    assert not await readable(stub, expired.image)
    assert not await readable(stub, twins[1].variants[0].images[0])
    kept = [saved.image, look.images[0], twins[0].variants[0].images[0], live.image]
    for image in kept:
        assert await readable(stub, image)
    assert blob_files(blob_root) == {image.sha256 for image in kept}
    assert await collect() == {"sheets": 0, "images": 0, "blobs": 0}


async def test_an_orphan_blob_outlives_the_grace_period(
    container: Container, collect, clock: ShiftedClock, blob_root: Path
) -> None:
    # As a create leaves it until its row commits (or for good, if the commit failed).
    key = await container.blobs().put(png(9, 16))
    clock.advance(BLOB_GRACE - timedelta(minutes=1))
    assert (await collect())["blobs"] == 0
    assert blob_files(blob_root) == {key}

    clock.advance(timedelta(minutes=2))
    assert (await collect())["blobs"] == 1
    assert blob_files(blob_root) == set()


async def test_the_server_collects_in_the_background(
    container: Container, clock: ShiftedClock, blob_root: Path
) -> None:
    update = {"collect_interval_seconds": 0.05}
    container.settings.override(container.settings().model_copy(update=update))
    async with (
        running(container) as live,
        grpc.aio.insecure_channel(f"127.0.0.1:{live.port}") as channel,
    ):
        stub = casting_pb2_grpc.CastingServiceStub(channel)
        expired = await sheet(stub, "short black bob")
        clock.advance(SHEET_TTL + BLOB_GRACE + timedelta(seconds=1))
        for _ in range(200):
            if expired.image.sha256 not in blob_files(blob_root):
                break
            await asyncio.sleep(0.05)
        assert blob_files(blob_root) == set()
        assert not await readable(stub, expired.image)


async def test_casting_collect_runs_as_a_process(
    stub, clock: ShiftedClock, database_url: str, blob_root: Path
) -> None:
    # Made two days ago by the server's clock: expired by the command's (the system's) clock.
    clock.advance(-2 * SHEET_TTL)
    expired = await sheet(stub, "short black bob", request_id="req-old")
    saved = await sheet(stub, "red curls")
    await stub.SaveActor(pb.SaveActorRequest(parent=P, sheet=saved.name, display_name="Mina"))

    env = {key: value for key, value in os.environ.items() if not key.startswith(("CASTING_", "GEMINI_"))} | {
        "CASTING_DATABASE_URL": database_url,
        "CASTING_BLOB_URL": f"file://{blob_root}",
        "CASTING_BLOB_GRACE_SECONDS": "0",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "casting.server.cli",
        "collect",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    assert json.loads(out.decode().strip().splitlines()[-1]) == {
        "sheets": 1,
        "request_ids": 1,
        "images": 1,
        "blobs": 1,
        "operations": 0,
    }
    assert blob_files(blob_root) == {saved.image.sha256}
    assert not await readable(stub, expired.image)
    assert await readable(stub, saved.image)
