"""The spending ledger's cost per drawing: GenerateSheet with a zero-latency model, one call at a
time, on SQLite and PostgreSQL, with its SQL statements counted (the ledger's apart); for a
project without a cap and one with a cap, with an empty ledger and after a month of prior
charges, beside the same server with the ledger taken out (a Spending that writes nothing), in
the same run.

The ledger's own statements per drawing are fixed, and a budget check reads one row, so neither
should grow with the month's charges. A project without a cap writes its charge with the image
(an upsert of the project's month and an insert); one with a cap reserves first, in a
transaction of its own (the same two statements), and settles with the image (two updates).
"""

from __future__ import annotations

import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.harness import (
    PROJECT,
    StandInGenerator,
    generate_request,
    sequential,
    service,
    sheet_png,
    sqlite_url,
)
from bench.report import Report
from casting.adapters.sql.migrate import upgrade_to_head
from casting.adapters.sql.models import ChargeRow, SpendingRow
from casting.domain.ports import Charge, UnitOfWork
from casting.domain.values import Usage
from tests.support.statements import counting

SECTION = "ledger"
LEDGER_TABLES = ("ledger", "project_spending")
BATCH = 5_000
WITHOUT = "without the ledger"
UNCAPPED = "ledger, no cap"
CAPPED = "ledger and a cap"


class NoLedger:
    """A Spending that reserves and settles nothing: the server as it was before the ledger."""

    async def reserve(self, project: str, estimate_micros: int) -> Charge:
        return Charge(str(uuid.uuid4()), project, "", estimate_micros, datetime.now(UTC))

    async def settle(self, uow: UnitOfWork, charge: Charge, usage: Usage) -> None:
        return None

    async def settle_failed(self, charge: Charge, usage: Usage) -> None:
        return None


async def seed_month(engine: AsyncEngine, charges: int) -> None:
    """`charges` settled charges of this month for the project, and its month's total, in place
    of whatever the ledger held."""
    now = datetime.now(UTC)
    month = now.strftime("%Y-%m")
    async with engine.begin() as connection:
        await connection.execute(delete(ChargeRow.__table__))
        await connection.execute(delete(SpendingRow.__table__))
        for start in range(0, charges, BATCH):
            rows = [
                {
                    "id": str(uuid.uuid4()),
                    "project": PROJECT,
                    "month": month,
                    "reserved_micros": 39_150,
                    "cost_micros": 38_760,
                    "model_calls": 1,
                    "input_tokens": 150,
                    "output_tokens": 1295,
                    "create_time": now,
                    "settle_time": now,
                }
                for _ in range(min(BATCH, charges - start))
            ]
            await connection.execute(insert(ChargeRow.__table__), rows)
        await connection.execute(
            insert(SpendingRow.__table__),
            [{"project": PROJECT, "month": month, "spent_micros": charges * 38_760}],
        )


async def measure(
    report: Report, backend: str, database_url: str, directory: Path, prior: int, calls: int
) -> None:
    model = StandInGenerator(sheet_png(), latency_seconds=0.0)
    p50s: dict[str, float] = {}
    budgets = directory / "budgets.yaml"
    budgets.parent.mkdir(parents=True, exist_ok=True)
    budgets.write_text(f"projects:\n  {PROJECT}: 1000000\n")  # a cap, never reached
    variants: tuple[tuple[str, dict[str, object], dict[str, str]], ...] = (
        (WITHOUT, {"spending": NoLedger()}, {}),
        (UNCAPPED, {}, {}),
        (CAPPED, {}, {"budgets_file": str(budgets)}),
    )
    for label, overrides, settings in variants:
        async with service(
            database_url, directory / label.replace(" ", "-"), model, overrides, **settings
        ) as served:
            engine: AsyncEngine = served.container.engine()
            if not overrides:
                await seed_month(engine, prior)

            async def call() -> object:
                return await served.stub.GenerateSheet(generate_request(uuid.uuid4().hex))

            await sequential(call, 0, warmup=5)
            with counting(engine) as statements:
                seconds = await sequential(call, calls, warmup=0)
            ledger = sum(any(table in statement for table in LEDGER_TABLES) for statement in statements)
            where = f"{backend}, {prior:,} prior charges, {label}"
            p50s[label], _ = report.latencies(SECTION, f"{where}: GenerateSheet", seconds)
            report.add(SECTION, f"{where}: SQL statements/drawing", len(statements) / calls, "")
            report.add(SECTION, f"{where}: of which the ledger's", ledger / calls, "")
    for label in (UNCAPPED, CAPPED):
        report.add(
            SECTION,
            f"{backend}, {prior:,} prior charges: p50 {label} / {WITHOUT}",
            p50s[label] / p50s[WITHOUT],
            "x",
        )


async def ledger(report: Report, prior: tuple[int, ...], calls: int, postgres_url: str | None) -> None:
    print(f"\n[{SECTION}] GenerateSheet with and without the spending ledger, {calls} calls each")
    with tempfile.TemporaryDirectory(prefix="casting-bench-") as tmp:
        directory = Path(tmp)
        for charges in prior:
            (directory / f"sqlite-{charges}").mkdir()
            database = await sqlite_url(directory / f"sqlite-{charges}")
            await measure(report, "sqlite", database, directory / f"sqlite-{charges}", charges, calls)
        if postgres_url is not None:
            await upgrade_to_head(postgres_url)
            for charges in prior:
                await measure(report, "postgresql", postgres_url, directory / f"pg-{charges}", charges, calls)
