"""Monthly budgets per project, from CASTING_BUDGETS_FILE (YAML), read at start-up:

default: 50          # USD a month for any project not listed (absent: no cap)
projects:
  studio-1: 200      # USD a month
  trial-3: 0         # no drawing at all
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field

Usd = Annotated[Decimal, Field(ge=0)]


class _BudgetsDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: Usd | None = None
    projects: dict[str, Usd] = {}


class BudgetsFile:
    """Implements domain.ports.Budgets. No file: no caps. A file that does not parse is a
    ValueError (pydantic's ValidationError) at start-up, where the operator sees it."""

    def __init__(self, path: str = "") -> None:
        text = Path(path).read_text() if path else ""
        document = _BudgetsDocument.model_validate(yaml.safe_load(text) or {})
        self._default = None if document.default is None else _micros(document.default)
        self._caps = {project: _micros(usd) for project, usd in document.projects.items()}

    def monthly_cap_micros(self, project: str) -> int | None:
        return self._caps.get(project, self._default)


def _micros(usd: Decimal) -> int:
    return int(usd * 1_000_000)
