"""The image repository: rows that point at content-addressed blobs, and what the collector asks of them."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, delete, exists, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from casting.adapters.sql import mappers
from casting.adapters.sql.models import ImageRow, ReferenceImageRow, SheetRow, ThumbnailRow, VariantImageRow
from casting.adapters.sql.rows import add_row
from casting.domain.values import Image


class SqlImageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, image: Image) -> None:
        add_row(self._session, ImageRow, mappers.image_values(image))

    async def get(self, project: str, image_id: str) -> Image | None:
        query = select(ImageRow).where(ImageRow.id == image_id, ImageRow.project == project)
        row = (await self._session.scalars(query)).one_or_none()
        return mappers.image_from_row(row) if row else None

    async def delete_unreferenced(self) -> int:
        # Anti-joins in one statement. A reference committed meanwhile is safe: its foreign key
        # makes one of the two transactions fail rather than leave it dangling.
        unreferenced = delete(ImageRow).where(
            *(
                ~exists().where(image_id == ImageRow.id)
                for image_id in (SheetRow.image_id, VariantImageRow.image_id, ReferenceImageRow.image_id)
            )
        )
        result = await self._session.execute(unreferenced.execution_options(synchronize_session=False))
        orphaned_thumbnails = delete(ThumbnailRow).where(
            ~exists().where(ImageRow.sha256 == ThumbnailRow.source_sha256)
        )
        await self._session.execute(orphaned_thumbnails.execution_options(synchronize_session=False))
        return cast(CursorResult[Any], result).rowcount

    async def referenced_blob_keys(self, keys: set[str]) -> set[str]:
        if not keys:
            return set()
        query = union(
            select(ImageRow.blob_key).where(ImageRow.blob_key.in_(keys)),
            select(ThumbnailRow.blob_key).where(ThumbnailRow.blob_key.in_(keys)),
        )
        return set((await self._session.execute(query)).scalars())
