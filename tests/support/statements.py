"""Counting the SQL statements a block sends, for tests and the bench alike."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from casting.adapters.sql.direct_reads import DirectReads


@contextmanager
def counting(engine: AsyncEngine, direct: DirectReads | None = None) -> Iterator[list[str]]:
    """The statements sent in the block: through `engine`, and straight on the driver by `direct`."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    if direct is not None:
        direct.listeners.append(statements.append)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
        if direct is not None:
            direct.listeners.remove(statements.append)
