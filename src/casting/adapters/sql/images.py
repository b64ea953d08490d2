"""The image repository: rows that point at content-addressed blobs."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from casting.adapters.sql import mappers
from casting.adapters.sql.models import ImageRow
from casting.domain.values import Image


class SqlImageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, image: Image) -> None:
        self._session.add(mappers.image_to_row(image))

    async def get(self, project: str, image_id: str) -> Image | None:
        query = select(ImageRow).where(ImageRow.id == image_id, ImageRow.project == project)
        row = (await self._session.scalars(query)).one_or_none()
        return mappers.image_from_row(row) if row else None
