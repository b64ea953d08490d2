"""CollectGarbage against in-memory fakes: what goes, and above all what never goes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from casting.domain.errors import NotFound
from casting.domain.operations import CastingCall, CastingOperation
from casting.domain.usecases.actors import ImportActorCommand, SaveActorCommand
from casting.domain.usecases.candidates import GenerateSheetCommand
from casting.domain.usecases.collect import Collected, CollectGarbage
from casting.domain.usecases.idempotency import DEFAULT_TTL, Idempotency
from casting.domain.usecases.variants import BranchVariantCommand
from casting.domain.values import TraitChanges, Traits
from tests.unit.conftest import SHEET_TTL, App
from tests.unit.fakes import FakeBlobStore, FakeClock, FakeUnitOfWork, png

P = "studio-1"
GRACE = timedelta(minutes=10)
LATER = SHEET_TTL + GRACE + timedelta(seconds=1)
NOTHING = Collected(sheets=0, request_ids=0, images=0, blobs=0)


@dataclass
class Collecting:
    """The use-cases and a collector over the same fakes; blob times follow the fake clock."""

    clock: FakeClock = field(default_factory=FakeClock)
    batch_size: int = 500

    def __post_init__(self) -> None:
        self.app = App(clock=self.clock, blobs=FakeBlobStore(self.clock))
        self.collect = CollectGarbage(
            lambda: FakeUnitOfWork(self.app.tables),
            self.app.blobs,
            Idempotency(self.clock),
            self.clock,
            GRACE,
            batch_size=self.batch_size,
        )

    @property
    def blob_keys(self) -> set[str]:
        return set(self.app.blobs.blobs)

    async def sheet(self, mood: str = "cheerful"):
        return await self.app.generate_sheet(GenerateSheetCommand(P, "romance", "webtoon", Traits(mood=mood)))


@pytest.fixture
def gc() -> Collecting:
    return Collecting()


async def test_an_expired_unsaved_sheet_goes_with_its_image_and_blob(gc: Collecting) -> None:
    sheet = await gc.sheet()
    assert await gc.collect() == NOTHING

    gc.clock.advance(LATER)
    assert await gc.collect() == Collected(sheets=1, request_ids=0, images=1, blobs=1)
    assert gc.app.tables.sheets == {} and gc.app.tables.images == {}
    assert gc.blob_keys == set()
    with pytest.raises(NotFound):
        await gc.app.read_image(P, sheet.image.id)


async def test_saved_and_live_sheets_and_looks_keep_their_images_and_blobs(gc: Collecting) -> None:
    saved = await gc.sheet(mood="calm")
    actor = await gc.app.save_actor(SaveActorCommand(P, saved.id, "Mina"))
    base = actor.variants[0]
    look = await gc.app.branch_variant(
        BranchVariantCommand(P, actor.actor.id, base.id, trait_changes=TraitChanges(outfit="red coat"))
    )
    gc.clock.advance(LATER)
    live = await gc.sheet(mood="sleepy")
    gc.clock.advance(GRACE * 2)  # every blob is past its grace; the live sheet is not expired

    assert await gc.collect() == NOTHING
    kept = {saved.image.blob_key, look.variant.images[0].blob_key, live.image.blob_key}
    assert gc.blob_keys == kept
    for image_id in (saved.image.id, look.variant.images[0].id, live.image.id):
        assert (await gc.app.read_image(P, image_id)).image.id == image_id


async def test_bytes_shared_by_two_images_stay_while_one_row_still_points_at_them(gc: Collecting) -> None:
    picture = png(36, 64)
    first = await gc.app.import_actor(ImportActorCommand(P, picture, "First"))
    second = await gc.app.import_actor(ImportActorCommand(P, picture, "Second"))
    kept_image = second.variants[0].images[0]
    assert first.variants[0].images[0].blob_key == kept_image.blob_key  # one blob, two rows

    await gc.app.delete_actor(P, first.actor.id)
    gc.clock.advance(LATER)
    assert await gc.collect() == Collected(sheets=0, request_ids=0, images=1, blobs=0)
    assert gc.blob_keys == {kept_image.blob_key}
    stream = await gc.app.read_image(P, kept_image.id)
    assert b"".join([chunk async for chunk in stream.chunks]) == picture

    await gc.app.delete_actor(P, second.actor.id)
    assert await gc.collect() == Collected(sheets=0, request_ids=0, images=1, blobs=1)
    assert gc.blob_keys == set()


async def test_an_unreferenced_blob_younger_than_the_grace_period_survives(gc: Collecting) -> None:
    # As a create does: the blob is written, and its row has not committed yet.
    key = await gc.app.blobs.put(png(9, 16))
    gc.clock.advance(GRACE - timedelta(seconds=1))
    assert await gc.collect() == NOTHING
    assert gc.blob_keys == {key}

    gc.clock.advance(timedelta(seconds=2))
    assert (await gc.collect()).blobs == 1
    assert gc.blob_keys == set()


async def test_putting_the_same_bytes_again_restarts_the_grace_period(gc: Collecting) -> None:
    data = png(9, 16)
    key = await gc.app.blobs.put(data)
    gc.clock.advance(GRACE * 2)
    await gc.app.blobs.put(data)  # a new create of the same bytes, its row not committed yet
    assert await gc.collect() == NOTHING
    assert gc.blob_keys == {key}


async def test_orphan_blobs_go_in_bounded_batches() -> None:
    gc = Collecting(batch_size=2)
    await gc.sheet()  # a live sheet among the orphans
    orphans = {await gc.app.blobs.put(png(9, 16, (n, 0, 0))) for n in range(5)}
    gc.clock.advance(GRACE * 2)
    assert (await gc.collect()).blobs == len(orphans)
    assert len(gc.blob_keys) == 1 and not gc.blob_keys & orphans


async def imported(gc: Collecting, name: str = "Mina", request_id: str = "req-1") -> str:
    command = ImportActorCommand(P, png(36, 64), name, request_id=request_id)
    return (await gc.app.import_actor(command)).actor.id


async def test_a_request_id_is_forgotten_after_its_ttl(gc: Collecting) -> None:
    first = await imported(gc)
    gc.clock.advance(DEFAULT_TTL - timedelta(minutes=1))
    assert (await gc.collect()).request_ids == 0
    assert await imported(gc) == first

    gc.clock.advance(timedelta(minutes=2))
    assert (await gc.collect()).request_ids == 1
    assert gc.app.tables.idempotency == {}
    again = await imported(gc)
    assert again != first
    assert await imported(gc) == again


async def test_an_expired_request_id_is_free_before_the_collector_comes(gc: Collecting) -> None:
    first = await imported(gc)
    gc.clock.advance(DEFAULT_TTL)
    # A different request under the id is no longer refused: the old record has expired.
    second = await imported(gc, name="Someone else")
    assert second != first
    (record,) = gc.app.tables.idempotency.values()
    assert record.resource_id == second


async def test_a_casting_operation_goes_once_its_time_to_live_has_passed(gc: Collecting) -> None:
    now = gc.clock.now()
    for name, lives in (("old", timedelta(hours=1)), ("young", timedelta(days=30))):
        operation = CastingOperation(
            id=name,
            project=P,
            story="pilot",
            calls=(CastingCall("Hero", traits=Traits()),),
            create_time=now,
            update_time=now,
            expire_time=now + lives,
        )
        async with FakeUnitOfWork(gc.app.tables) as uow:
            await uow.operations.add(operation)
            await uow.commit()
    gc.clock.advance(timedelta(hours=2))

    assert (await gc.collect()).operations == 1
    assert set(gc.app.tables.operations) == {(P, "young")}
