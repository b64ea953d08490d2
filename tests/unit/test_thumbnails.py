"""ReadThumbnail on in-memory fakes and the Pillow thumbnailer: made once, kept, made again
only when its blob is gone; widths and projects checked."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from PIL import Image as Picture

from casting.adapters.decoding import DecodingPool
from casting.adapters.thumbnails import PillowThumbnailer
from casting.domain.errors import InvalidInput, NotFound
from casting.domain.usecases.images import ImageKeeper
from casting.domain.usecases.thumbnails import ReadThumbnail
from casting.domain.values import Image, ImageFacts
from tests.unit.fakes import FakeBlobStore, FakeClock, FakeUnitOfWork, SequentialIds, Tables, png


class CountingThumbnailer(PillowThumbnailer):
    def __init__(self, pool: DecodingPool) -> None:
        super().__init__(pool)
        self.made = 0

    async def shrink(self, data: bytes, width: int) -> tuple[bytes, ImageFacts]:
        self.made += 1
        return await super().shrink(data, width)


@pytest.fixture
def tables() -> Tables:
    return Tables()


@pytest.fixture
def blobs() -> FakeBlobStore:
    return FakeBlobStore()


@pytest.fixture
def thumbnailer() -> Iterator[CountingThumbnailer]:
    pool = DecodingPool(budget_bytes=64 * 1024 * 1024, threads=1)
    yield CountingThumbnailer(pool)
    pool.close()


@pytest.fixture
def read(tables: Tables, blobs: FakeBlobStore, thumbnailer: CountingThumbnailer) -> ReadThumbnail:
    return ReadThumbnail(lambda: FakeUnitOfWork(tables), blobs, thumbnailer)


@pytest.fixture
async def sheet(tables: Tables, blobs: FakeBlobStore) -> Image:
    image = await ImageKeeper(blobs, SequentialIds(), FakeClock()).keep(
        "p", png(360, 640), ImageFacts("image/png", 360, 640)
    )
    tables.images[(image.project, image.id)] = image
    return image


async def test_a_thumbnail_is_made_on_the_first_read_and_kept(
    read: ReadThumbnail, sheet: Image, blobs: FakeBlobStore, thumbnailer: CountingThumbnailer
) -> None:
    first = await read("p", sheet.id, 240)
    again = await read("p", sheet.id, 240)

    assert thumbnailer.made == 1
    assert again == first
    assert Picture.open(io.BytesIO(first.data)).size == (240, 427)
    assert blobs.blobs[first.thumbnail.blob_key] == first.data
    assert first.thumbnail.source_sha256 == sheet.sha256


async def test_a_thumbnail_whose_blob_was_collected_is_made_again(
    read: ReadThumbnail, sheet: Image, blobs: FakeBlobStore, thumbnailer: CountingThumbnailer
) -> None:
    first = await read("p", sheet.id, 240)
    await blobs.delete(first.thumbnail.blob_key)

    again = await read("p", sheet.id, 240)

    assert thumbnailer.made == 2
    assert again.data == first.data
    assert first.thumbnail.blob_key in blobs.blobs


async def test_only_the_offered_widths_and_the_project_s_own_images(
    read: ReadThumbnail, sheet: Image
) -> None:
    with pytest.raises(InvalidInput):
        await read("p", sheet.id, 300)
    with pytest.raises(NotFound):
        await read("other", sheet.id, 240)
