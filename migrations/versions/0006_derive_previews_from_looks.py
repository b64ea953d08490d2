"""Derive previews from looks: a sheet may be a new look of an actor, drawn from one of its
looks, waiting for the artist to pick it (GenerateSheets with base_variant).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sheets", sa.Column("base_character_id", sa.String(36), nullable=True))
    op.add_column("sheets", sa.Column("base_variant_id", sa.String(36), nullable=True))
    op.add_column("sheets", sa.Column("base_trait_changes", sa.JSON(), nullable=True))
    op.add_column("sheets", sa.Column("base_story_id", sa.String(63), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sheets") as sheets:
        sheets.drop_column("base_story_id")
        sheets.drop_column("base_trait_changes")
        sheets.drop_column("base_variant_id")
        sheets.drop_column("base_character_id")
