"""The spending ledger: one charge per drawing, and each project's running total a month.

The total is kept beside the charges so that checking a budget reads one row, whatever the
month's count of drawings: a reservation is one upsert of that row (which locks it until the
transaction ends, on PostgreSQL by row lock, on SQLite by its one writer) and one insert.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import CursorResult, Insert, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from casting.adapters.sql.conflicts import conflicts_as_domain_errors
from casting.adapters.sql.models import ChargeRow, SpendingRow
from casting.adapters.sql.rows import insert_row, inserting, table_of
from casting.domain.ports import Charge
from casting.domain.values import Usage


class SqlLedgerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def reserve(self, charge: Charge) -> int:
        total = await self._add_to_month(charge, charge.reserved_micros)
        await insert_row(self._session, _NEW_CHARGE, _charge_values(charge))
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
        # Written before the month is locked, which lasts until the commit.
        await insert_row(self._session, _NEW_CHARGE, _charge_values(charge, usage, at))
        await self._add_to_month(charge, usage.cost_micros)

    async def _add_to_month(self, charge: Charge, micros: int) -> int:
        """Adds to the project's month (made if new), which stays locked until the transaction
        ends; returns the new total. Every drawing of a project updates that one row, so what the
        session holds is written first (its autoflush): the lock is then held for this statement
        and the commit, not for every insert too."""
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
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    month = table_of(SpendingRow)
    upsert = insert(month).values(
        project=bindparam("project"), month=bindparam("month"), spent_micros=bindparam("micros")
    )
    return upsert.on_conflict_do_update(
        index_elements=[month.c.project, month.c.month],
        set_={"spent_micros": month.c.spent_micros + upsert.excluded.spent_micros},
    ).returning(month.c.spent_micros)


_NEW_CHARGE = inserting(ChargeRow)


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
