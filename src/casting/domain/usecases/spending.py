"""What drawings cost each project, and the monthly budgets that stop them.

A drawing of a project with a cap reserves its estimated cost in the ledger, in a short
transaction of its own, before the model is called: refused there (BudgetExceeded) when the
month's spend and the estimate would pass the cap. Replicas reserve in turn (the ledger locks
the project's month), so two racing at the cap overspend by at most what the drawings already
in flight cost above their estimates; a redraw reserves its own estimate on the same charge
first, and one the cap refuses is not drawn. The reservation is then settled to what the model billed:
in the transaction that stores the drawing, or in one of its own when the drawing failed. A
drawing cut off without an answer (the caller left) keeps its estimate: what the model billed is
unknown. A project without a cap reserves nothing; its charges are written with its drawings,
so that a cap set later counts them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from casting.domain.errors import BudgetExceeded
from casting.domain.ports import Budgets, Charge, Clock, IdFactory, UnitOfWork
from casting.domain.values import Usage

# Told what each project spent: (project, usage), once per settled drawing.
SpendObserver = Callable[[str, Usage], None]


class Spending:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        budgets: Budgets,
        ids: IdFactory,
        clock: Clock,
        observer: SpendObserver | None = None,
    ) -> None:
        self._uow = uow
        self._budgets = budgets
        self._ids = ids
        self._clock = clock
        self._observer = observer

    async def reserve(self, project: str, estimate_micros: int) -> Charge:
        """Reserves `estimate_micros` of the project's month for one drawing, or raises
        BudgetExceeded (reserving nothing) when that would pass the project's cap."""
        now = self._clock.now()
        charge = Charge(self._ids.new_id(), project, now.strftime("%Y-%m"), estimate_micros, now)
        cap = self._budgets.monthly_cap_micros(project)
        if cap is None:
            # Nothing to stop: no reservation, no transaction of its own; the charge is written
            # with the drawing.
            return replace(charge, reserved_micros=0, reserved=False)
        async with self._uow() as uow:
            before = await uow.ledger.reserve(charge)
            if before + estimate_micros > cap:
                raise BudgetExceeded(project, charge.month, cap, before)
            await uow.commit()
        return charge

    async def extend(self, charge: Charge, estimate_micros: int) -> Charge:
        """Reserves another drawing's estimate on `charge` (a redraw), or raises BudgetExceeded
        (reserving nothing more) when that would pass the cap; the charge with its new total."""
        cap = self._budgets.monthly_cap_micros(charge.project)
        if not charge.reserved or cap is None:
            return charge
        async with self._uow() as uow:
            before = await uow.ledger.extend(charge, estimate_micros)
            if before + estimate_micros > cap:
                raise BudgetExceeded(charge.project, charge.month, cap, before)
            await uow.commit()
        return replace(charge, reserved_micros=charge.reserved_micros + estimate_micros)

    async def settle(self, uow: UnitOfWork, charge: Charge, usage: Usage) -> None:
        """Stages the charge at what it cost, in `uow`: the transaction of what it paid for."""
        if charge.reserved:
            await uow.ledger.settle(charge, usage, self._clock.now())
        else:
            await uow.ledger.record(charge, usage, self._clock.now())
        if self._observer is not None:
            self._observer(charge.project, usage)

    async def settle_failed(self, charge: Charge, usage: Usage) -> None:
        """Settles, in a transaction of its own, a drawing that stored nothing."""
        async with self._uow() as uow:
            await self.settle(uow, charge, usage)
            await uow.commit()
