"""Image bytes in and out: keeping new images, and ReadImage."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from casting.domain import names
from casting.domain.errors import NotFound
from casting.domain.ports import BlobStore, Clock, IdFactory, UnitOfWork
from casting.domain.values import Image, ImageBytes, ImageFacts

# gRPC keeps a chunk it has accepted, and its copies (~5x the chunk), until the client reads it:
# that is what a stream whose client reads nothing holds. At 1 MiB, 300 such streams held 1.5 GB;
# at 256 KiB ~380 MiB, with ReadImage as fast; at 128 KiB ~190 MiB, but 10-30% slower with 20
# readers, and at 64 KiB half as fast (bench/README.md, issue 16).
READ_CHUNK_BYTES = 256 * 1024


class ImageKeeper:
    """Writes image bytes to the blob store and describes them as an Image (no row yet: the
    caller adds it in its own transaction, after the blob is safely written)."""

    def __init__(self, blobs: BlobStore, ids: IdFactory, clock: Clock) -> None:
        self._blobs = blobs
        self._ids = ids
        self._clock = clock

    async def keep(self, project: str, data: bytes, facts: ImageFacts) -> Image:
        key = await self._blobs.put(data)
        return Image(
            id=self._ids.new_id(),
            project=project,
            blob_key=key,
            mime_type=facts.mime_type,
            width=facts.width,
            height=facts.height,
            size_bytes=len(data),
            sha256=key,
            create_time=self._clock.now(),
        )

    async def load(self, image: Image) -> ImageBytes:
        return ImageBytes(await self._blobs.get(image.blob_key), image.mime_type)


@dataclass(frozen=True, slots=True)
class ImageStream:
    image: Image
    chunks: AsyncIterator[bytes]


class ReadImage:
    def __init__(self, uow: Callable[[], UnitOfWork], blobs: BlobStore) -> None:
        self._uow = uow
        self._blobs = blobs

    async def __call__(self, project: str, image_id: str) -> ImageStream:
        async with self._uow() as uow:
            image = await uow.images.get(project, image_id)
        if image is None:
            raise NotFound("image", names.image(project, image_id))
        return ImageStream(image, self._chunks(image))

    async def _chunks(self, image: Image) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._blobs.stream(image.blob_key, READ_CHUNK_BYTES):
                yield chunk
        except KeyError:
            # The row outlived its blob; to the caller the image is simply gone.
            raise NotFound("image", names.image(image.project, image.id)) from None
