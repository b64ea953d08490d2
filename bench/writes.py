"""How long the in-process server's SQLite write transactions last while a burst runs.

SQLite lets one connection write at a time, and the server queues its writers for that turn
(adapters/sql/write_turns.py), which a session takes at its first write and holds to the end of
its transaction. The sum of those holds is then time no two generations shared: when it comes
near what the burst took beyond one call, the writers' queue is what the burst waits on, more
than the CPU. Measured with SQLAlchemy's session events, after the turn's own listener.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from casting.adapters.sql.write_turns import TurnTakingSession

_FIRST_WRITE = "bench.first_write"
_GROUP_DRIVER = "pysqlite"  # the group commit's engine; the sessions' is aiosqlite


class WriteHolds:
    """Seconds from each write transaction's first write statement (its turn taken), or from a
    group commit's BEGIN, to its end, while entered."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __enter__(self) -> Self:
        event.listen(TurnTakingSession, "do_orm_execute", self._statement)
        event.listen(TurnTakingSession, "before_flush", self._flush)
        event.listen(TurnTakingSession, "after_transaction_end", self._ended)
        event.listen(Engine, "begin", self._group_began)
        event.listen(Engine, "commit", self._group_ended)
        event.listen(Engine, "rollback", self._group_ended)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        event.remove(TurnTakingSession, "do_orm_execute", self._statement)
        event.remove(TurnTakingSession, "before_flush", self._flush)
        event.remove(TurnTakingSession, "after_transaction_end", self._ended)
        event.remove(Engine, "begin", self._group_began)
        event.remove(Engine, "commit", self._group_ended)
        event.remove(Engine, "rollback", self._group_ended)

    def _statement(self, state: ORMExecuteState) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            state.session.info.setdefault(_FIRST_WRITE, time.perf_counter())

    def _flush(self, session: Session, _flush: Any, _instances: Any) -> None:
        session.info.setdefault(_FIRST_WRITE, time.perf_counter())

    def _ended(self, session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None and (began := session.info.pop(_FIRST_WRITE, None)) is not None:
            self.seconds.append(time.perf_counter() - began)

    def _group_began(self, connection: Connection) -> None:
        if connection.engine.driver == _GROUP_DRIVER:
            connection.info[_FIRST_WRITE] = time.perf_counter()

    def _group_ended(self, connection: Connection) -> None:
        if (began := connection.info.pop(_FIRST_WRITE, None)) is not None:
            self.seconds.append(time.perf_counter() - began)
