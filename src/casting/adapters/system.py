"""The system clock and id factory."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class UuidFactory:
    def new_id(self) -> str:
        return str(uuid.uuid4())
