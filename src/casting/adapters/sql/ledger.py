"""The spending ledger: one charge per drawing, and each project's running total a month.

The total is kept beside the charges so that checking a budget reads one row, whatever the
month's count of drawings: a reservation is one upsert of that row (which locks it until the
transaction ends, on PostgreSQL by row lock, on SQLite by its one writer) and one insert. A
drawing of a project without a cap only adds to the total, which no one reads back in its
transaction: its charge and addition are staged with the drawing's rows (rows.py), so on
PostgreSQL the row is locked for that one statement.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import CursorResult, Insert, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from casting.adapters.sql.conflicts import conflicts_as_domain_errors
from casting.adapters.sql.models import ChargeRow, SpendingRow
from casting.adapters.sql.rows import add_row, add_to_total, table_of, upsert_adding
from casting.domain.ports import Charge
from casting.domain.values import Usage


class SqlLedgerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def reserve(self, charge: Charge) -> int:
        total = await self._add_to_month(charge, charge.reserved_micros)
        add_row(self._session, ChargeRow, _charge_values(charge))
        return total - charge.reserved_micros

    async def extend(self, charge: Charge, micros: int) -> int:
        total = await self._add_to_month(charge, micros)
        await self._session.execute(
            update(ChargeRow)
            .where(ChargeRow.id == charge.id)
            .values(reserved_micros=ChargeRow.reserved_micros + micros)
        )
        return total - micros

    async def record(self, charge: Charge, usage: Usage, at: datetime) -> None:
        add_row(self._session, ChargeRow, _charge_values(charge, usage, at))
        month = {"project": charge.project, "month": charge.month}
        add_to_total(self._session, SpendingRow, "spent_micros", month, usage.cost_micros)

    async def _add_to_month(self, charge: Charge, micros: int) -> int:
        """Adds to the project's month (made if new), which stays locked until the transaction
        ends; returns the new total."""
        upsert = _month_upsert(self._session.bind.dialect.name)
        added = {"project": charge.project, "month": charge.month, "micros": micros}
        async with conflicts_as_domain_errors():
            return int((await self._session.execute(upsert, added)).scalar_one())

    async def settle(self, charge: Charge, usage: Usage, at: datetime) -> None:
        settled = await self._session.execute(
            update(ChargeRow)
            .where(ChargeRow.id == charge.id, ChargeRow.cost_micros.is_(None))
            .values(
                cost_micros=usage.cost_micros,
                model_calls=usage.model_calls,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                settle_time=at,
            )
        )
        if cast(CursorResult[Any], settled).rowcount != 1:
            return
        await self._session.execute(
            update(SpendingRow)
            .where(SpendingRow.project == charge.project, SpendingRow.month == charge.month)
            .values(spent_micros=SpendingRow.spent_micros + (usage.cost_micros - charge.reserved_micros))
        )

    async def spent(self, project: str, month: str) -> int:
        total = await self._session.scalar(
            select(SpendingRow.spent_micros).where(SpendingRow.project == project, SpendingRow.month == month)
        )
        return int(total or 0)


@cache
def _month_upsert(dialect: str) -> Insert:
    """Adds :micros to (:project, :month), made if new; returns the new total. Built once per
    dialect: its `excluded` alias alone re-made every column's proxy on each call."""
    month = table_of(SpendingRow)
    added: dict[str, Any] = {
        "project": bindparam("project"),
        "month": bindparam("month"),
        "spent_micros": bindparam("micros"),
    }
    upsert = upsert_adding(month, ("project", "month"), "spent_micros", added, dialect)
    return upsert.returning(month.c.spent_micros)


def _charge_values(
    charge: Charge, usage: Usage | None = None, settled: datetime | None = None
) -> dict[str, Any]:
    """The charge's row: reserved (no usage yet), or recorded at `usage`'s cost."""
    usage = usage or Usage()
    return {
        "id": charge.id,
        "project": charge.project,
        "month": charge.month,
        "reserved_micros": charge.reserved_micros,
        "cost_micros": None if settled is None else usage.cost_micros,
        "model_calls": usage.model_calls,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "create_time": charge.reserve_time,
        "settle_time": settled,
    }
