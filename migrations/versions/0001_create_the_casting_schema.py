"""Create the casting schema: characters and their variants, images, sheets, casts, keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id(name: str, *, nullable: bool) -> sa.Column[str]:
    """A server-made UUID."""
    return sa.Column(name, sa.String(36), nullable=nullable)


def _owner_id(name: str, *, nullable: bool) -> sa.Column[str]:
    """A project or story id: [a-z0-9-]{1,63} or a UUID."""
    return sa.Column(name, sa.String(63), nullable=nullable)


def _time(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _provenance() -> list[sa.Column[object]]:
    return [
        sa.Column("generator", sa.Text(), nullable=True),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("prompt_version", sa.Text(), nullable=True),
        sa.Column("prompt_sha256", sa.String(64), nullable=True),
        sa.Column("reference_image_ids", sa.JSON(), nullable=True),
        sa.Column("duration_seconds", sa.Double(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "images",
        _id("id", nullable=False),
        _owner_id("project", nullable=False),
        sa.Column("blob_key", sa.Text(), nullable=False),
        sa.Column("mime_type", sa.Text(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        _time("create_time"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
    )
    op.create_index(op.f("ix_images_blob_key"), "images", ["blob_key"])
    op.create_table(
        "characters",
        _id("id", nullable=False),
        _owner_id("project", nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("traits", sa.JSON(), nullable=False),
        sa.Column("default_story_style", sa.Text(), nullable=False),
        sa.Column("default_image_style", sa.Text(), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        _time("create_time"),
        _time("update_time"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_characters")),
    )
    op.create_index(
        op.f("ix_characters_project_create_time_id"),
        "characters",
        ["project", "create_time", "id"],
    )
    op.create_table(
        "character_variants",
        _id("id", nullable=False),
        _id("character_id", nullable=False),
        _owner_id("story_id", nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("story_style", sa.Text(), nullable=False),
        sa.Column("image_style", sa.Text(), nullable=False),
        sa.Column("traits", sa.JSON(), nullable=False),
        sa.Column("trait_changes", sa.JSON(), nullable=False),
        _id("parent_variant_id", nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        _time("create_time"),
        _time("update_time"),
        *_provenance(),
        sa.CheckConstraint(
            "kind IN ('base', 'derived', 'imported')", name=op.f("ck_character_variants_kind")
        ),
        sa.ForeignKeyConstraint(
            ["character_id"],
            ["characters.id"],
            name=op.f("fk_character_variants_character_id_characters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_variant_id"],
            ["character_variants.id"],
            name=op.f("fk_character_variants_parent_variant_id_character_variants"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_character_variants")),
    )
    op.create_index(op.f("ix_character_variants_character_id"), "character_variants", ["character_id"])
    op.create_index(
        op.f("ix_character_variants_parent_variant_id"),
        "character_variants",
        ["parent_variant_id"],
    )
    op.create_index(
        "uq_character_variants_one_default",
        "character_variants",
        ["character_id"],
        unique=True,
        sqlite_where=sa.text("is_default"),
        postgresql_where=sa.text("is_default"),
    )
    for table in ("character_reference_images", "variant_images"):
        op.create_table(
            table,
            _id("variant_id", nullable=False),
            sa.Column("position", sa.Integer(), nullable=False),
            _id("image_id", nullable=False),
            sa.ForeignKeyConstraint(
                ["variant_id"],
                ["character_variants.id"],
                name=op.f(f"fk_{table}_variant_id_character_variants"),
                ondelete="CASCADE",
            ),
            sa.ForeignKeyConstraint(["image_id"], ["images.id"], name=op.f(f"fk_{table}_image_id_images")),
            sa.PrimaryKeyConstraint("variant_id", "position", name=op.f(f"pk_{table}")),
        )
    op.create_table(
        "story_casts",
        _id("character_id", nullable=False),
        _owner_id("story_id", nullable=False),
        _id("variant_id", nullable=False),
        _owner_id("project", nullable=False),
        sa.ForeignKeyConstraint(
            ["character_id"],
            ["characters.id"],
            name=op.f("fk_story_casts_character_id_characters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["character_variants.id"],
            name=op.f("fk_story_casts_variant_id_character_variants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("character_id", "story_id", name=op.f("pk_story_casts")),
    )
    op.create_index(op.f("ix_story_casts_variant_id"), "story_casts", ["variant_id"])
    op.create_index(op.f("ix_story_casts_project_story_id"), "story_casts", ["project", "story_id"])
    op.create_table(
        "sheets",
        _id("id", nullable=False),
        _owner_id("project", nullable=False),
        sa.Column("story_style", sa.Text(), nullable=False),
        sa.Column("image_style", sa.Text(), nullable=False),
        sa.Column("traits", sa.JSON(), nullable=False),
        _id("image_id", nullable=False),
        _time("create_time"),
        _time("expire_time"),
        _id("character_id", nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        *_provenance(),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], name=op.f("fk_sheets_image_id_images")),
        sa.ForeignKeyConstraint(
            ["character_id"],
            ["characters.id"],
            name=op.f("fk_sheets_character_id_characters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sheets")),
    )
    op.create_index(op.f("ix_sheets_character_id"), "sheets", ["character_id"])
    op.create_table(
        "idempotency_keys",
        _owner_id("project", nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=False),
        _time("create_time"),
        sa.PrimaryKeyConstraint("project", "operation", "request_id", name=op.f("pk_idempotency_keys")),
    )


def downgrade() -> None:
    # Children before parents; a table's indexes go with it.
    for table in (
        "idempotency_keys",
        "sheets",
        "story_casts",
        "variant_images",
        "character_reference_images",
        "character_variants",
        "characters",
        "images",
    ):
        op.drop_table(table)
