"""Render actors for reads: each actor and look keeps the document reads answer with, written
when it is saved, so that reading a page of actors does not rebuild their aggregates. Actors
saved before this revision have none and are rendered as they are read until their next save.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("characters", sa.Column("document", sa.LargeBinary(), nullable=True))
    op.add_column("characters", sa.Column("document_version", sa.Integer(), nullable=True))
    op.add_column("character_variants", sa.Column("document", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("character_variants") as looks:
        looks.drop_column("document")
    with op.batch_alter_table("characters") as actors:
        actors.drop_column("document_version")
        actors.drop_column("document")
