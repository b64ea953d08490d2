"""Record how each drawing was judged and what it cost, beside its provenance.

Rows kept before this read as not verified (NULL verdict) and as costing nothing recorded (0).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Both tables that keep a drawing's provenance: saved looks and unsaved previews.
TABLES = ("character_variants", "sheets")
USAGE_COLUMNS = (
    ("model_calls", sa.Integer()),
    ("input_tokens", sa.BigInteger()),
    ("output_tokens", sa.BigInteger()),
    ("cost_micros", sa.BigInteger()),
)


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("verification", sa.JSON(), nullable=True))
            for name, type_ in USAGE_COLUMNS:
                batch.add_column(sa.Column(name, type_, server_default="0", nullable=False))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            for name, _ in reversed(USAGE_COLUMNS):
                batch.drop_column(name)
            batch.drop_column("verification")
