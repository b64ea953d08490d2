"""A database out of reach is UNAVAILABLE with RetryInfo, not a bare INTERNAL."""

from __future__ import annotations

import grpc
import pytest
from sqlalchemy import text

from casting.server.container import Container
from casting.v1 import casting_pb2 as pb
from tests.e2e.rich_errors import details_of
from tests.e2e.test_flow import save


@pytest.fixture
def container(container: Container) -> Container:
    """One pooled connection and a short wait for it, so that holding it starves the service; no
    read cache, so that GetVariant reads the aggregate through that pool."""
    settings = container.settings().model_copy(
        update={
            "database_pool_size": 1,
            "database_max_overflow": 0,
            "database_pool_timeout_seconds": 0.2,
            "actor_cache_seconds": 0,
        }
    )
    container.settings.override(settings)
    return container


async def test_no_free_connection_is_unavailable_and_the_service_recovers(container: Container, stub) -> None:
    actor = await save(stub)
    async with container.engine().connect() as held:
        await held.execute(text("SELECT 1"))  # the pool's only connection, checked out
        with pytest.raises(grpc.aio.AioRpcError) as starved:
            await stub.GetVariant(pb.GetVariantRequest(name=actor.variants[0].name))
    found = details_of(starved.value)
    assert (found.code, found.reason) == (grpc.StatusCode.UNAVAILABLE, "STORAGE_UNAVAILABLE")
    assert found.retry_seconds and "SELECT" not in found.message and "pool" not in found.message.lower()
    look = await stub.GetVariant(pb.GetVariantRequest(name=actor.variants[0].name))
    assert look.name == actor.variants[0].name
