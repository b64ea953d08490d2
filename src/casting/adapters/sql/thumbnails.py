"""The thumbnail repository: which blob is the thumbnail of which content at which width."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from casting.adapters.sql import mappers
from casting.adapters.sql.models import ThumbnailRow
from casting.domain.ports import Thumbnail


class SqlThumbnailRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, source_sha256: str, width: int) -> Thumbnail | None:
        row = await self._session.get(ThumbnailRow, (source_sha256, width))
        return mappers.thumbnail_from_row(row) if row else None

    async def save(self, thumbnail: Thumbnail) -> None:
        # Two first requests racing to insert the same key: the later commit is a Conflict.
        await self._session.merge(mappers.thumbnail_to_row(thumbnail))
