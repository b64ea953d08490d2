"""The spending ledger on SQLite and PostgreSQL: reservations, settlements and the month's total."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from casting.adapters.sql.unit_of_work import SqlUnitOfWork
from casting.domain.errors import BudgetExceeded
from casting.domain.ports import Charge
from casting.domain.usecases.spending import Spending
from casting.domain.values import Usage
from tests.unit.fakes import FakeClock, FixedBudgets, SequentialIds

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def charge(id_: str, reserved: int, project: str = "p", month: str = "2026-11") -> Charge:
    return Charge(f"00000000-0000-4000-8000-{id_:0>12}", project, month, reserved, NOW)


async def spent(uow_factory: Callable[[], SqlUnitOfWork], project: str = "p", month: str = "2026-11") -> int:
    async with uow_factory() as uow:
        return await uow.ledger.spent(project, month)


async def test_reservations_add_up_and_settling_replaces_each_by_its_cost(
    uow_factory: Callable[[], SqlUnitOfWork],
) -> None:
    first, second = charge("1", 40_000), charge("2", 40_000)
    async with uow_factory() as uow:
        assert await uow.ledger.reserve(first) == 0
        assert await uow.ledger.reserve(second) == 40_000
        await uow.commit()

    async with uow_factory() as uow:
        await uow.ledger.settle(first, Usage(1, 900, 1290, 38_970), NOW)
        await uow.ledger.settle(first, Usage(1, 900, 1290, 99_999), NOW)  # settled once only
        await uow.commit()

    assert await spent(uow_factory) == 38_970 + 40_000
    assert await spent(uow_factory, month="2026-12") == 0
    assert await spent(uow_factory, project="q") == 0


async def test_a_redraw_extends_its_reservation_and_settling_replaces_all_of_it(
    uow_factory: Callable[[], SqlUnitOfWork],
) -> None:
    drawing = charge("1", 40_000)
    async with uow_factory() as uow:
        await uow.ledger.reserve(drawing)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.ledger.extend(drawing, 40_000) == 40_000
        await uow.commit()
    assert await spent(uow_factory) == 80_000

    async with uow_factory() as uow:
        await uow.ledger.settle(replace(drawing, reserved_micros=80_000), Usage(2, 1800, 2580, 77_940), NOW)
        await uow.commit()
    assert await spent(uow_factory) == 77_940


async def test_a_reservation_rolled_back_leaves_nothing(uow_factory: Callable[[], SqlUnitOfWork]) -> None:
    async with uow_factory() as uow:
        await uow.ledger.reserve(charge("1", 40_000))

    assert await spent(uow_factory) == 0


async def test_concurrent_reservations_at_the_cap_take_turns(
    uow_factory: Callable[[], SqlUnitOfWork],
) -> None:
    """Ten drawings race for a cap that holds four: four are reserved, six refused."""
    clock = FakeClock()
    spending = Spending(uow_factory, FixedBudgets({"p": 4 * 40_000}), SequentialIds(), clock)

    outcomes = await asyncio.gather(
        *(spending.reserve("p", 40_000) for _ in range(10)), return_exceptions=True
    )

    assert sum(isinstance(o, Charge) for o in outcomes) == 4
    assert sum(isinstance(o, BudgetExceeded) for o in outcomes) == 6
    assert await spent(uow_factory, month=clock.now().strftime("%Y-%m")) == 4 * 40_000


@pytest.mark.parametrize("cost", [0, 12_345, 80_000])
async def test_a_settled_charge_counts_at_its_cost_whatever_its_estimate(
    uow_factory: Callable[[], SqlUnitOfWork], cost: int
) -> None:
    reserved = charge("1", 40_000)
    async with uow_factory() as uow:
        await uow.ledger.reserve(reserved)
        await uow.commit()
    async with uow_factory() as uow:
        await uow.ledger.settle(reserved, Usage(1, 0, 0, cost), NOW)
        await uow.commit()

    assert await spent(uow_factory) == cost


async def test_a_charge_recorded_without_a_reservation_counts_at_its_cost(
    uow_factory: Callable[[], SqlUnitOfWork],
) -> None:
    reserved, recorded = charge("1", 40_000), replace(charge("2", 0), reserved=False)
    async with uow_factory() as uow:
        await uow.ledger.reserve(reserved)
        await uow.commit()
    async with uow_factory() as uow:
        await uow.ledger.record(recorded, Usage(1, 900, 1290, 38_970), NOW)
        await uow.commit()

    assert await spent(uow_factory) == 40_000 + 38_970
