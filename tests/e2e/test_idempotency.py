"""AIP-155 over the wire: a create retried under its request_id returns what the first made,
on SQLite and PostgreSQL, for GenerateSheet, SaveActor, ImportActor and BranchVariant."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from dependency_injector import providers

from casting.adapters.generators.offline import OfflineGenerator
from casting.domain.ports import GeneratedImage, GenerationSpec
from casting.domain.values import ImageBytes
from casting.server.container import Container
from casting.v1 import casting_pb2 as pb
from tests.e2e.rich_errors import details_of
from tests.unit.fakes import png

P = "projects/studio-1"
TRAITS = pb.Traits(gender=pb.GENDER_MALE, age_range=pb.AGE_RANGE_ELDERLY, hair_traits="white beard")
REQUEST_ID_TTL = timedelta(minutes=10)
DUPLICATES = 5


class ShiftedClock:
    """The system's time, moved on by `advance`: expiry without waiting."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


class CountingGenerator:
    """The offline generator, counting its calls; each call takes a moment, so that
    concurrent duplicates overlap."""

    def __init__(self) -> None:
        self.inner = OfflineGenerator()
        self.calls = 0

    async def generate(self, spec: GenerationSpec, references: list[ImageBytes]) -> GeneratedImage:
        self.calls += 1
        await asyncio.sleep(0.05)
        return await self.inner.generate(spec, references)


@pytest.fixture
def model() -> CountingGenerator:
    return CountingGenerator()


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture
def container(container: Container, model: CountingGenerator, clock: ShiftedClock) -> Container:
    container.model.override(providers.Object(model))
    container.clock.override(providers.Object(clock))
    ttl = {"idempotency_ttl_seconds": int(REQUEST_ID_TTL.total_seconds())}
    container.settings.override(container.settings().model_copy(update=ttl))
    return container


@dataclass
class Create:
    """One create RPC, ready to call: `call(request_id, other)` sends the same request each
    time, or another one (for a different resource) when `other` is true."""

    call: Callable[[str, bool], Awaitable[Any]]
    draws: bool  # whether it asks the model


async def a_sheet(stub) -> pb.Sheet:
    request = pb.GenerateSheetRequest(parent=P, story_style="fantasy", image_style="webtoon", traits=TRAITS)
    return await stub.GenerateSheet(request)


async def generate_sheet(stub) -> Create:
    def call(request_id: str, other: bool) -> Awaitable[pb.Sheet]:
        return stub.GenerateSheet(
            pb.GenerateSheetRequest(
                parent=P,
                story_style="fantasy",
                image_style="anime" if other else "webtoon",
                traits=TRAITS,
                request_id=request_id,
            )
        )

    return Create(call, draws=True)


async def save_actor(stub) -> Create:
    sheets = {False: await a_sheet(stub), True: await a_sheet(stub)}

    def call(request_id: str, other: bool) -> Awaitable[pb.Actor]:
        return stub.SaveActor(
            pb.SaveActorRequest(
                parent=P, sheet=sheets[other].name, display_name="Old Tom", request_id=request_id
            )
        )

    return Create(call, draws=False)


async def import_actor(stub) -> Create:
    picture = png(45, 80)

    def call(request_id: str, other: bool) -> Awaitable[pb.Actor]:
        return stub.ImportActor(
            pb.ImportActorRequest(
                parent=P,
                image_content=picture,
                display_name="Tom's twin" if other else "Tom",
                request_id=request_id,
            )
        )

    return Create(call, draws=False)


async def branch_variant(stub) -> Create:
    sheet = await a_sheet(stub)
    actor = await stub.SaveActor(pb.SaveActorRequest(parent=P, sheet=sheet.name, display_name="Tom"))

    def call(request_id: str, other: bool) -> Awaitable[pb.Variant]:
        return stub.BranchVariant(
            pb.BranchVariantRequest(
                base_variant=actor.default_variant,
                trait_changes=pb.TraitChanges(outfit="green cape" if other else "red coat"),
                request_id=request_id,
            )
        )

    return Create(call, draws=True)


CREATES = pytest.mark.parametrize(
    "prepare",
    [generate_sheet, save_actor, import_actor, branch_variant],
    ids=["GenerateSheet", "SaveActor", "ImportActor", "BranchVariant"],
)


@CREATES
async def test_a_retry_returns_the_first_result(stub, prepare, model: CountingGenerator) -> None:
    create = await prepare(stub)
    before = model.calls
    first = await create.call("req-1", False)
    assert await create.call("req-1", False) == first
    assert model.calls - before == int(create.draws)
    # Without a request id, the same request makes another resource.
    assert (await create.call("", True)).name != first.name


@CREATES
async def test_concurrent_duplicates_make_one_resource_and_one_model_call(
    stub, prepare, model: CountingGenerator
) -> None:
    create = await prepare(stub)
    before = model.calls
    # Every call runs to its end before anything is judged, failed ones included.
    results = await asyncio.gather(
        *(create.call("req-1", False) for _ in range(DUPLICATES)), return_exceptions=True
    )
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert len({r.name for r in results}) == 1
    assert model.calls - before == int(create.draws)


@CREATES
async def test_a_request_id_reused_for_another_request_is_refused(stub, prepare, model) -> None:
    create = await prepare(stub)
    first = await create.call("req-1", False)
    before = model.calls
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await create.call("req-1", True)
    details = details_of(error.value)
    assert (details.code, details.reason, details.fields) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_REQUEST",
        ["request_id"],
    )
    assert model.calls == before  # refused before any drawing
    assert await create.call("req-1", False) == first


@CREATES
async def test_after_the_ttl_the_request_id_makes_a_new_resource(stub, prepare, clock: ShiftedClock) -> None:
    create = await prepare(stub)
    first = await create.call("req-1", False)
    clock.advance(REQUEST_ID_TTL - timedelta(seconds=30))
    assert await create.call("req-1", False) == first

    clock.advance(timedelta(seconds=31))
    # The expired record is still stored (no collection has run); it must not get in the way.
    second = await create.call("req-1", True)
    assert second.name != first.name
    assert await create.call("req-1", True) == second
