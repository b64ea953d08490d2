"""PostgreSQL connections the database dropped (a restart, a failover, a backend terminated),
handled without a round trip on every checkout.

`pool_pre_ping` asked the server on every checkout, reads included: one trip in autocommit,
three outside it (BEGIN, the ping, ROLLBACK). Instead, what a caller sees:

- After a restart or pg_terminate_backend, nothing: the server says goodbye and closes each
  connection's socket, asyncpg notices on its own, and `drop_closed_on_checkout` replaces such
  a connection as the pool hands it out (the pool's documented hook for "pessimistic" handling:
  a `checkout` listener raising DisconnectionError), without asking the server.
- After a failover that left the sockets open (the address moved to a standby, which resets
  them when they next send), SQLAlchemy's "optimistic" handling: the statement that meets the
  reset is a disconnect, and the pool drops that connection and every one pooled before it, so
  the next checkout connects anew. A read that failed so runs once more
  (`read_again_if_dropped`) and answers. A write does not: it may have reached the server, and
  a caller's retry is safe only under its request_id; it fails as StorageUnavailable
  (UNAVAILABLE with RetryInfo), which in a sequence of calls is the first write at most.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

Result = TypeVar("Result")


def drop_closed_on_checkout(engine: AsyncEngine) -> None:
    """Makes `engine`'s pool replace, as it hands it out, a connection the server has closed."""
    event.listen(engine.sync_engine, "checkout", _drop_closed)


def _drop_closed(_dbapi: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection) -> None:
    if record.driver_connection is not None and record.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


async def read_again_if_dropped(read: Callable[[], Awaitable[Result]]) -> Result:
    """`read()`, once more if it failed because the database had dropped its connection. Only
    for reads: the first try may have run."""
    try:
        return await read()
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
    return await read()


async def read_on(engine: AsyncEngine, read: Callable[[AsyncConnection], Awaitable[Result]]) -> Result:
    """`read` on a new connection of `engine`, run again on another if the database had dropped
    the first (read_again_if_dropped)."""

    async def once() -> Result:
        async with engine.connect() as connection:
            return await read(connection)

    return await read_again_if_dropped(once)
