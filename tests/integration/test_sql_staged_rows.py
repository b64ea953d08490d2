"""Rows a unit of work adds are written together: in one statement without a transaction on
PostgreSQL when that is all it does, before anything else its session sends otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncEngine

from casting.domain.errors import Conflict
from casting.domain.model import Sheet
from casting.domain.ports import Charge, IdempotencyRecord, UnitOfWork
from casting.domain.values import Usage
from tests.integration.conftest import PROJECT, Library, new_id
from tests.integration.test_sql_records import a_sheet

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
MONTH = "2026-11"


@contextmanager
def sent(engine: AsyncEngine) -> Iterator[list[tuple[str, str]]]:
    """Each statement the engine sends, with its connection's isolation level ("" if the
    engine's default, which begins a transaction first)."""
    seen: list[tuple[str, str]] = []

    def statement(conn: Connection, _cursor: Any, text: str, *_args: Any) -> None:
        seen.append((text, conn.get_execution_options().get("isolation_level", "")))

    event.listen(engine.sync_engine, "before_cursor_execute", statement)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", statement)


def recorded(cost: int) -> Charge:
    return Charge(new_id(), PROJECT, MONTH, 0, NOW, reserved=False)


async def stage_a_generation(uow: UnitOfWork, sheet: Sheet, request_id: str, cost: int) -> None:
    """What GenerateSheet adds once the model has drawn: the image, the sheet, the request id,
    the charge and the month's total."""
    await uow.images.add(sheet.image)
    await uow.sheets.add(sheet)
    record = IdempotencyRecord(PROJECT, "GenerateSheet", request_id, "f" * 64, sheet.id, NOW)
    await uow.idempotency.add(record)
    await uow.ledger.record(recorded(cost), Usage(1, 10, 20, cost), NOW)


async def test_a_generation_is_stored_whole_in_one_statement_on_postgresql(
    library: Library, engine: AsyncEngine, database_url: str
) -> None:
    sheet = a_sheet(library)
    with sent(engine) as statements:
        async with library.uow() as uow:
            await stage_a_generation(uow, sheet, "request-1", 38_970)
            await uow.commit()

    if database_url.startswith("postgresql"):
        # No BEGIN, no COMMIT: one statement, atomic on its own.
        assert [(text.split()[0], level) for text, level in statements] == [("WITH", "AUTOCOMMIT")]
    else:
        # One INSERT a table (images, sheets, request ids, charges) and the month's upsert.
        assert [text.split()[0] for text, _ in statements] == ["INSERT"] * 5
    async with library.uow() as uow:
        assert await uow.sheets.get(PROJECT, sheet.id) == sheet
        assert (await uow.idempotency.get(PROJECT, "GenerateSheet", "request-1")) is not None
        assert await uow.ledger.spent(PROJECT, MONTH) == 38_970


async def test_several_drawings_add_their_costs_to_the_month_once_each(library: Library) -> None:
    async with library.uow() as uow:
        await uow.ledger.record(recorded(1_000), Usage(1, 0, 0, 1_000), NOW)
        await uow.commit()
    sheets = [a_sheet(library) for _ in range(3)]
    async with library.uow() as uow:
        for sheet in sheets:  # as GenerateSheets stores its candidates
            await uow.images.add(sheet.image)
            await uow.sheets.add(sheet)
        for cost in (100, 20, 3):
            await uow.ledger.record(recorded(cost), Usage(1, 0, 0, cost), NOW)
        await uow.commit()

    async with library.uow() as uow:
        assert await uow.ledger.spent(PROJECT, MONTH) == 1_123
        assert [await uow.sheets.get(PROJECT, s.id) for s in sheets] == sheets


async def test_a_request_id_used_twice_fails_the_commit_and_stores_nothing_of_it(library: Library) -> None:
    first, second = a_sheet(library), a_sheet(library)
    async with library.uow() as uow:
        await stage_a_generation(uow, first, "request-1", 500)
        await uow.commit()

    with pytest.raises(Conflict):
        async with library.uow() as uow:
            await stage_a_generation(uow, second, "request-1", 700)
            await uow.commit()

    async with library.uow() as uow:
        assert await uow.sheets.get(PROJECT, second.id) is None
        assert await uow.images.get(PROJECT, second.image.id) is None
        assert await uow.ledger.spent(PROJECT, MONTH) == 500


async def test_rows_staged_are_read_back_before_the_commit_and_gone_without_it(library: Library) -> None:
    sheet = a_sheet(library)
    async with library.uow() as uow:
        await uow.images.add(sheet.image)
        await uow.sheets.add(sheet)
        assert await uow.sheets.get(PROJECT, sheet.id) == sheet
        # No commit: the block ends, and the rows with it.

    async with library.uow() as uow:
        assert await uow.sheets.get(PROJECT, sheet.id) is None
        assert await uow.images.get(PROJECT, sheet.image.id) is None


async def test_a_rollback_forgets_the_rows_staged_before_it(library: Library) -> None:
    dropped, kept = a_sheet(library), a_sheet(library)
    async with library.uow() as uow:
        await uow.images.add(dropped.image)
        await uow.sheets.add(dropped)
        await uow.rollback()
        await uow.images.add(kept.image)
        await uow.sheets.add(kept)
        await uow.commit()

    async with library.uow() as uow:
        assert await uow.sheets.get(PROJECT, dropped.id) is None
        assert await uow.images.get(PROJECT, dropped.image.id) is None
        assert await uow.sheets.get(PROJECT, kept.id) == kept


async def test_a_capped_drawing_settles_after_rows_staged_before_it(library: Library) -> None:
    """A reservation reads the month's total: what was staged before it is counted."""
    async with library.uow() as uow:
        await uow.ledger.record(recorded(250), Usage(1, 0, 0, 250), NOW)
        reserved = replace(recorded(0), reserved_micros=1_000, reserved=True)
        assert await uow.ledger.reserve(reserved) == 250
        await uow.commit()

    async with library.uow() as uow:
        assert await uow.ledger.spent(PROJECT, MONTH) == 1_250
