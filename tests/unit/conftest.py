from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from casting.domain.usecases.actors import (
    DeleteActor,
    GetActor,
    ImportActor,
    ListActors,
    SaveActor,
    UpdateActor,
)
from casting.domain.usecases.candidates import GenerateSheet, GenerateSheets
from casting.domain.usecases.cast import CastVariant, ListStoryCast
from casting.domain.usecases.idempotency import Idempotency
from casting.domain.usecases.images import ImageKeeper, ReadImage
from casting.domain.usecases.painting import SheetPainter, Verifying
from casting.domain.usecases.sheets import GetSheet
from casting.domain.usecases.spending import Spending
from casting.domain.usecases.variants import BranchVariant, DeleteVariant, GetVariant, UpdateVariant
from tests.unit.fakes import (
    FakeBlobStore,
    FakeClock,
    FakeGenerator,
    FakeUnitOfWork,
    FixedBudgets,
    NoActorCache,
    PngHeaderCodec,
    ScriptedJudge,
    SequentialIds,
    Tables,
)

SHEET_TTL = timedelta(hours=1)
ESTIMATE = 40_000  # what the fake expects a drawing to cost, in USD millionths


@dataclass
class App:
    """Every use-case wired to in-memory fakes, and the fakes to look into."""

    tables: Tables = field(default_factory=Tables)
    blobs: FakeBlobStore = field(default_factory=FakeBlobStore)
    generator: FakeGenerator = field(default_factory=FakeGenerator)
    judge: ScriptedJudge = field(default_factory=ScriptedJudge)
    verifying: Verifying = field(default_factory=Verifying)
    clock: FakeClock = field(default_factory=FakeClock)
    ids: SequentialIds = field(default_factory=SequentialIds)
    budgets: FixedBudgets = field(default_factory=FixedBudgets)

    def __post_init__(self) -> None:
        def uow() -> FakeUnitOfWork:
            return FakeUnitOfWork(self.tables)

        codec = PngHeaderCodec()
        keeper = ImageKeeper(self.blobs, self.ids, self.clock)
        spending = Spending(uow, self.budgets, self.ids, self.clock)
        painter = SheetPainter(
            self.generator,
            codec,
            keeper,
            spending,
            self.judge,
            self.verifying,
            estimate_micros=lambda spec: ESTIMATE,
        )
        idem = Idempotency(self.clock)
        self.generate_sheets = GenerateSheets(uow, painter, idem, self.ids, self.clock, SHEET_TTL)
        self.generate_sheet = GenerateSheet(self.generate_sheets)
        self.get_sheet = GetSheet(uow, self.clock)
        self.save_actor = SaveActor(uow, idem, self.ids, self.clock)
        self.import_actor = ImportActor(
            uow, codec, keeper, idem, self.ids, self.clock, max_upload_bytes=10_000
        )
        self.get_actor = GetActor(uow, NoActorCache())
        self.list_actors = ListActors(uow)
        self.update_actor = UpdateActor(uow, self.clock)
        self.delete_actor = DeleteActor(uow)
        self.branch_variant = BranchVariant(uow, painter, idem, self.ids, self.clock)
        self.get_variant = GetVariant(uow, NoActorCache())
        self.update_variant = UpdateVariant(uow, self.clock)
        self.delete_variant = DeleteVariant(uow, self.clock)
        self.cast_variant = CastVariant(uow, self.clock)
        self.list_story_cast = ListStoryCast(uow)
        self.read_image = ReadImage(uow, self.blobs)


@pytest.fixture
def app() -> App:
    return App()
