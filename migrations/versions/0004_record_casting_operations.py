"""Record CastStory operations and each role's outcome.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "casting_operations",
        sa.Column("project", sa.String(63), nullable=False),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("story", sa.String(63), nullable=False),
        sa.Column("calls", sa.JSON(), nullable=False),
        sa.Column("roles_total", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expire_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("project", "id", name=op.f("pk_casting_operations")),
    )
    op.create_index(
        op.f("ix_casting_operations_project_create_time_id"),
        "casting_operations",
        ["project", "create_time", "id"],
    )
    op.create_index(op.f("ix_casting_operations_expire_time"), "casting_operations", ["expire_time"])
    op.create_table(
        "casting_role_outcomes",
        sa.Column("project", sa.String(63), nullable=False),
        sa.Column("operation_id", sa.String(36), nullable=False),
        sa.Column("role_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("actor_id", sa.String(36), nullable=True),
        sa.Column("variant_id", sa.String(36), nullable=True),
        sa.Column("failure", sa.JSON(), nullable=True),
        sa.Column("finish_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project", "operation_id"],
            ["casting_operations.project", "casting_operations.id"],
            name=op.f("fk_casting_role_outcomes_project_casting_operations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "project", "operation_id", "role_index", name=op.f("pk_casting_role_outcomes")
        ),
    )


def downgrade() -> None:
    op.drop_table("casting_role_outcomes")
    op.drop_table("casting_operations")
