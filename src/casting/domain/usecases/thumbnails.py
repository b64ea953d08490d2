"""ReadThumbnail: an image scaled down for lists and grids, made on the first request and kept.

A thumbnail is a blob like any other; a Thumbnail record remembers which blob is the thumbnail
of which content at which width, so that later requests read it instead of making it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from casting.domain import names
from casting.domain.errors import Conflict, InvalidInput, NotFound
from casting.domain.ports import BlobStore, Thumbnail, Thumbnailer, UnitOfWork
from casting.domain.values import Image

# A few widths, not any: each one asked for is a blob kept for good.
THUMBNAIL_WIDTHS = (240, 480)


@dataclass(frozen=True, slots=True)
class ThumbnailBytes:
    thumbnail: Thumbnail
    data: bytes


class ReadThumbnail:
    def __init__(self, uow: Callable[[], UnitOfWork], blobs: BlobStore, thumbnailer: Thumbnailer) -> None:
        self._uow = uow
        self._blobs = blobs
        self._thumbnailer = thumbnailer

    async def __call__(self, project: str, image_id: str, width: int) -> ThumbnailBytes:
        """The project's image `width` pixels wide, one of THUMBNAIL_WIDTHS."""
        if width not in THUMBNAIL_WIDTHS:
            raise InvalidInput.field("width", f"must be one of {', '.join(map(str, THUMBNAIL_WIDTHS))}")
        async with self._uow() as uow:
            image = await uow.images.get(project, image_id)
            kept = await uow.thumbnails.get(image.sha256, width) if image else None
        if image is None:
            raise NotFound("image", names.image(project, image_id))
        if kept is not None:
            try:
                return ThumbnailBytes(kept, await self._blobs.get(kept.blob_key))
            except KeyError:
                pass  # its blob was collected: make it again
        return await self._make(image, width)

    async def _make(self, image: Image, width: int) -> ThumbnailBytes:
        try:
            source = await self._blobs.get(image.blob_key)
        except KeyError:
            raise NotFound("image", names.image(image.project, image.id)) from None
        data, facts = await self._thumbnailer.shrink(source, width)
        key = await self._blobs.put(data)  # the blob first: a record never names a missing blob
        thumbnail = Thumbnail(
            source_sha256=image.sha256,
            width=width,
            blob_key=key,
            mime_type=facts.mime_type,
            height=facts.height,
            size_bytes=len(data),
        )
        try:
            async with self._uow() as uow:
                await uow.thumbnails.save(thumbnail)
                await uow.commit()
        except Conflict:
            pass  # a concurrent request recorded the same thumbnail first; this one is as good
        return ThumbnailBytes(thumbnail, data)
