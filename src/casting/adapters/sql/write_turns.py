"""SQLite writers queue in the process, not in SQLite's busy handler.

SQLite lets one connection write at a time. A connection that finds the write lock taken
sleeps in SQLite's busy handler (1, 2, 5 … up to 100 ms between tries), and nothing wakes it
when the lock frees: in a burst of 100 GenerateSheet calls the INSERTs spent ~9 s in those
sleeps, summed, and the burst took 1.8x one call. So a session waits for its turn in process
before its first write, and hands the turn on the moment its transaction ends.

The turn only orders writers; SQLite's lock still guards the data. A session waiting for its
turn holds no SQLite lock (pysqlite begins a transaction at the first write), so it cannot
block the one it waits for; and after SQLite's own busy timeout it goes ahead without a turn,
so a session that waits on another in its own task fails as it always did, not forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.util import await_

from casting.adapters.sql.rows import StagingSession

# pysqlite's default busy timeout: how long SQLite itself would have let a writer wait.
WAIT_SECONDS = 5.0

_TURNS = "casting.write_turns"
_HOLDS_TURN = "casting.holds_write_turn"


class TurnTakingSession(StagingSession):
    """A Session whose writes wait for the turn that `write_turns()` put in its `info`."""


@dataclass(frozen=True)
class WriteTurns:
    """The writers' turn of one database."""

    wait_seconds: float = WAIT_SECONDS
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """The turn, for writes outside a session (group_commit.py)."""
        taken = await _wait_for_turn(self)
        try:
            yield
        finally:
            if taken:
                self.lock.release()


def write_turns(wait_seconds: float = WAIT_SECONDS) -> dict[str, Any]:
    """Session `info` that makes the sessions of one database take turns to write; a writer
    goes ahead without its turn after `wait_seconds`."""
    return taking(WriteTurns(wait_seconds))


def taking(turns: WriteTurns) -> dict[str, Any]:
    """Session `info` that makes a session take `turns` to write."""
    return {_TURNS: turns}


@event.listens_for(TurnTakingSession, "before_flush")
def _before_flush(session: Session, _flush: Any, _instances: Any) -> None:
    _take_turn(session)


# Bulk DELETE and UPDATE write without a flush. Listening costs every query ~10 µs; a bulk
# write without a turn, followed by a flush that waits for one, could stall two writers.
@event.listens_for(TurnTakingSession, "do_orm_execute")
def _before_statement(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        _take_turn(state.session)


@event.listens_for(TurnTakingSession, "after_transaction_end")
def _after_transaction(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None and session.info.pop(_HOLDS_TURN, False):
        session.info[_TURNS].lock.release()


def _take_turn(session: Session) -> None:
    turns: WriteTurns | None = session.info.get(_TURNS)
    if turns is not None and _HOLDS_TURN not in session.info:
        # Session events run synchronously inside SQLAlchemy's greenlet; await_ waits on the
        # loop. False (waited in vain) also stands until the transaction ends: no second wait.
        session.info[_HOLDS_TURN] = await_(_wait_for_turn(turns))


async def _wait_for_turn(turns: WriteTurns) -> bool:
    try:
        async with asyncio.timeout(turns.wait_seconds):
            return await turns.lock.acquire()
    except TimeoutError:
        return False
