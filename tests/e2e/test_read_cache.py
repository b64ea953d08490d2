"""GetActor and GetVariant answer from memory for CASTING_ACTOR_CACHE_SECONDS: a caller reads
every write made through this server at once; a write made through another replica on the same
database shows within that time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from dependency_injector import providers
from google.protobuf import field_mask_pb2

from casting.adapters.recent_actors import RecentActors
from casting.server.container import Container
from casting.server.main import running
from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.e2e.test_flow import P, save

CACHE_SECONDS = 3.0


@pytest.fixture
def container(container: Container, request: pytest.FixtureRequest) -> Container:
    # An hour unless a test says otherwise: a write that failed to drop the cached actor would
    # be read stale by every assertion after it.
    seconds = getattr(request, "param", 3600)
    container.settings.override(container.settings().model_copy(update={"actor_cache_seconds": seconds}))
    return container


async def test_every_write_shows_in_the_next_read(stub) -> None:
    actor = await save(stub)
    base = actor.variants[0]
    read = await stub.GetActor(pb.GetActorRequest(name=actor.name))
    assert read == actor

    renamed = await stub.UpdateActor(
        pb.UpdateActorRequest(
            actor=pb.Actor(name=actor.name, display_name="Mina Park"),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        )
    )
    assert (await stub.GetActor(pb.GetActorRequest(name=actor.name))) == renamed

    child = await stub.BranchVariant(
        pb.BranchVariantRequest(base_variant=base.name, trait_changes=pb.TraitChanges(mood="calm"))
    )
    assert await stub.GetVariant(pb.GetVariantRequest(name=child.name)) == child
    read = await stub.GetActor(pb.GetActorRequest(name=actor.name))
    assert [v.name for v in read.variants] == [base.name, child.name]

    await stub.UpdateVariant(
        pb.UpdateVariantRequest(
            variant=pb.Variant(name=child.name, is_default=True),
            update_mask=field_mask_pb2.FieldMask(paths=["is_default"]),
        )
    )
    assert (await stub.GetActor(pb.GetActorRequest(name=actor.name))).default_variant == child.name

    story = f"{P}/stories/chapter-1"
    await stub.CastVariant(pb.CastVariantRequest(variant=child.name, story=story))
    assert list((await stub.GetVariant(pb.GetVariantRequest(name=child.name))).cast_stories) == [story]

    await stub.DeleteVariant(pb.DeleteVariantRequest(name=base.name))
    read = await stub.GetActor(pb.GetActorRequest(name=actor.name))
    assert [v.name for v in read.variants] == [child.name]

    await stub.DeleteActor(pb.DeleteActorRequest(name=actor.name))
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await stub.GetActor(pb.GetActorRequest(name=actor.name))
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND


async def test_many_readers_at_once_get_the_same_actor(stub) -> None:
    actor = await save(stub)
    reads = await asyncio.gather(*(stub.GetActor(pb.GetActorRequest(name=actor.name)) for _ in range(50)))
    assert all(read == actor for read in reads)


@pytest.fixture
async def replica(container: Container) -> AsyncIterator[casting_pb2_grpc.CastingServiceStub]:
    """A second server on the same database and blobs: another replica."""
    other = Container()
    other.settings.override(container.settings())
    async with (
        running(other) as live,
        grpc.aio.insecure_channel(f"127.0.0.1:{live.port}") as channel,
    ):
        yield casting_pb2_grpc.CastingServiceStub(channel)


class CacheClock:
    """The read cache's clock, moved by the test: an expiry happens when the test says."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cache_clock(container: Container) -> CacheClock:
    clock = CacheClock()
    seconds = container.settings().actor_cache_seconds
    for cache in (container.recent_actors, container.recent_documents):
        cache.override(providers.Singleton(RecentActors, ttl_seconds=seconds, clock=clock))
    return clock


@pytest.mark.parametrize("container", [CACHE_SECONDS], indirect=True)
async def test_another_replicas_write_shows_within_the_cache_time(
    cache_clock: CacheClock, replica, stub
) -> None:
    actor = await save(stub)
    await stub.GetActor(pb.GetActorRequest(name=actor.name))
    await replica.UpdateActor(
        pb.UpdateActorRequest(
            actor=pb.Actor(name=actor.name, display_name="Renamed elsewhere"),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        )
    )
    # Within the cache time this server still answers what it read before...
    cache_clock.now += CACHE_SECONDS - 0.1
    assert (await stub.GetActor(pb.GetActorRequest(name=actor.name))).display_name == "Mina"
    # ...and once it has passed, the other replica's write.
    cache_clock.now += 0.1
    assert (await stub.GetActor(pb.GetActorRequest(name=actor.name))).display_name == "Renamed elsewhere"
