"""The tables, as typed declarative rows. Rows know nothing of the domain; see mappers.py.

The database enforces the invariants it can on its own: foreign keys, one default variant per
character (a partial unique index), one active variant per (character, story) (the primary
key of story_casts) and one idempotency record per request id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from casting.adapters.sql.timestamps import UtcDateTime

# Every constraint and index gets a predictable name, so migrations can address them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(36)  # a server-made UUID
OWNER_ID = String(63)  # a project or story id: [a-z0-9-]{1,63} or a UUID


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        str: Text,
        datetime: UtcDateTime,
        dict[str, str]: JSON,
        list[str]: JSON,
        dict[str, Any]: JSON,
    }


class ImageRow(Base):
    __tablename__ = "images"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project: Mapped[str] = mapped_column(OWNER_ID)
    # The collector asks which blobs are still referenced, by key.
    blob_key: Mapped[str] = mapped_column(index=True)
    mime_type: Mapped[str]
    width: Mapped[int]
    height: Mapped[int]
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    create_time: Mapped[datetime]


class ProvenanceColumns:
    """How an image was made; all NULL for a variant that was imported, not generated."""

    generator: Mapped[str | None]
    model: Mapped[str | None]
    prompt_version: Mapped[str | None]
    prompt_sha256: Mapped[str | None] = mapped_column(String(64))
    reference_image_ids: Mapped[list[str] | None]
    duration_seconds: Mapped[float | None]
    # The judge's verdict as a document (see mappers.py); NULL: kept before drawings were judged.
    verification: Mapped[dict[str, Any] | None]
    # What the drawing cost, judge included; 0 for rows kept before usage was recorded.
    model_calls: Mapped[int] = mapped_column(server_default="0")
    input_tokens: Mapped[int] = mapped_column(BigInteger, server_default="0")
    output_tokens: Mapped[int] = mapped_column(BigInteger, server_default="0")
    cost_micros: Mapped[int] = mapped_column(BigInteger, server_default="0")


class ActorRow(Base):
    __tablename__ = "characters"
    __table_args__ = (Index(None, "project", "create_time", "id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project: Mapped[str] = mapped_column(OWNER_ID)
    display_name: Mapped[str]
    description: Mapped[str]
    traits: Mapped[dict[str, str]]
    default_story_style: Mapped[str]
    default_image_style: Mapped[str]
    approved: Mapped[bool]
    create_time: Mapped[datetime]
    update_time: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer)
    # The read side's rendering of the actor (actor_documents.py), good while document_version
    # is version: a save that did not render it (an older release's) leaves it behind.
    document: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True, deferred_raiseload=True)
    document_version: Mapped[int | None] = mapped_column(deferred=True, deferred_raiseload=True)

    # The database deletes the children (ON DELETE CASCADE); passive_deletes spares the loads.
    variants: Mapped[list[VariantRow]] = relationship(
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by=lambda: (VariantRow.create_time, VariantRow.id),
    )
    casts: Mapped[list[CastRow]] = relationship(
        lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )

    __mapper_args__ = {"version_id_col": version}


class VariantRow(ProvenanceColumns, Base):
    __tablename__ = "character_variants"
    __table_args__ = (CheckConstraint("kind IN ('base', 'derived', 'imported')", name="kind"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    character_id: Mapped[str] = mapped_column(ForeignKey("characters.id", ondelete="CASCADE"), index=True)
    story_id: Mapped[str | None] = mapped_column(OWNER_ID)
    kind: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str]
    story_style: Mapped[str]
    image_style: Mapped[str]
    traits: Mapped[dict[str, str]]
    # Only the fields the look changed, so "unchanged" and "changed to empty" stay distinct.
    trait_changes: Mapped[dict[str, str]]
    parent_variant_id: Mapped[str | None] = mapped_column(
        ForeignKey("character_variants.id", ondelete="SET NULL"), index=True
    )
    is_default: Mapped[bool]
    create_time: Mapped[datetime]
    update_time: Mapped[datetime]
    # Rendered with its actor's document, and as current as it.
    document: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True, deferred_raiseload=True)

    images: Mapped[list[VariantImageRow]] = relationship(
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by=lambda: VariantImageRow.position,
    )
    reference_images: Mapped[list[ReferenceImageRow]] = relationship(
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by=lambda: ReferenceImageRow.position,
    )


class VariantImageRow(Base):
    """A variant's generated images, in order."""

    __tablename__ = "variant_images"

    variant_id: Mapped[str] = mapped_column(
        ForeignKey("character_variants.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id"))

    # Writes set image_id only (image rows are added by the image repository); the
    # relationship is here for loading and so that a flush inserts images before links.
    image: Mapped[ImageRow] = relationship(lazy="raise")


class ReferenceImageRow(Base):
    """The image a variant was drawn from (its identity anchor)."""

    __tablename__ = "character_reference_images"

    variant_id: Mapped[str] = mapped_column(
        ForeignKey("character_variants.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id"))

    image: Mapped[ImageRow] = relationship(lazy="raise")


class CastRow(Base):
    """The active variant of a character in a story: one per (character, story)."""

    __tablename__ = "story_casts"
    __table_args__ = (Index(None, "project", "story_id"),)

    character_id: Mapped[str] = mapped_column(
        ForeignKey("characters.id", ondelete="CASCADE"), primary_key=True
    )
    story_id: Mapped[str] = mapped_column(OWNER_ID, primary_key=True)
    variant_id: Mapped[str] = mapped_column(
        ForeignKey("character_variants.id", ondelete="CASCADE"), index=True
    )
    project: Mapped[str] = mapped_column(OWNER_ID)

    # Never set: it tells a flush to insert variants before, and delete them after, casts.
    variant: Mapped[VariantRow] = relationship(lazy="raise")


class SheetRow(ProvenanceColumns, Base):
    __tablename__ = "sheets"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project: Mapped[str] = mapped_column(OWNER_ID)
    story_style: Mapped[str]
    image_style: Mapped[str]
    traits: Mapped[dict[str, str]]
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id"))
    create_time: Mapped[datetime]
    expire_time: Mapped[datetime]
    # A saved sheet goes with its actor, rather than becoming an unsaved preview again.
    character_id: Mapped[str | None] = mapped_column(
        ForeignKey("characters.id", ondelete="CASCADE"), index=True
    )
    # A derived preview: the look it was drawn from (no foreign key: the look may go before
    # the preview expires, and committing it then says NOT_FOUND), its changes and its story.
    base_character_id: Mapped[str | None] = mapped_column(ID)
    base_variant_id: Mapped[str | None] = mapped_column(ID)
    base_trait_changes: Mapped[dict[str, str] | None]
    base_story_id: Mapped[str | None] = mapped_column(OWNER_ID)
    # Two concurrent saves of one sheet: the second's UPDATE matches no row and fails.
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}

    image: Mapped[ImageRow] = relationship(lazy="raise")
    # Never set: it orders a flush so the character a sheet is saved as exists first.
    character: Mapped[ActorRow | None] = relationship(lazy="raise")


class IdempotencyRow(Base):
    __tablename__ = "idempotency_keys"

    project: Mapped[str] = mapped_column(OWNER_ID, primary_key=True)
    operation: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[str] = mapped_column(primary_key=True)
    fingerprint: Mapped[str]
    resource_id: Mapped[str]
    create_time: Mapped[datetime]


class ThumbnailRow(Base):
    """Which blob is the thumbnail of some content (a blob key) at some width. Keyed by content,
    not by image row: no project, no foreign key, nothing to delete with an actor."""

    __tablename__ = "thumbnails"

    source_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    width: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    blob_key: Mapped[str] = mapped_column(String(64))
    mime_type: Mapped[str]
    height: Mapped[int]
    size_bytes: Mapped[int]


class OperationRow(Base):
    """A CastStory operation: the roles asked for (JSON, written once) and its state."""

    __tablename__ = "casting_operations"

    project: Mapped[str] = mapped_column(OWNER_ID, primary_key=True)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    story: Mapped[str] = mapped_column(OWNER_ID)
    calls: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    roles_total: Mapped[int]
    cancelled: Mapped[bool]
    create_time: Mapped[datetime]
    update_time: Mapped[datetime]
    expire_time: Mapped[datetime] = mapped_column(index=True)

    outcomes: Mapped[list[RoleOutcomeRow]] = relationship(
        lazy="raise", cascade="all, delete-orphan", passive_deletes=True, order_by="RoleOutcomeRow.role_index"
    )

    __table_args__ = (Index(None, "project", "create_time", "id"),)


class RoleOutcomeRow(Base):
    """What one role's step made, or why it failed: one row per (operation, role), so that a
    step run twice cannot record twice."""

    __tablename__ = "casting_role_outcomes"

    project: Mapped[str] = mapped_column(OWNER_ID, primary_key=True)
    operation_id: Mapped[str] = mapped_column(ID, primary_key=True)
    role_index: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    actor_id: Mapped[str | None] = mapped_column(ID)
    variant_id: Mapped[str | None] = mapped_column(ID)
    failure: Mapped[dict[str, str] | None] = mapped_column(JSON)
    finish_time: Mapped[datetime]

    __table_args__ = (
        ForeignKeyConstraint(
            ["project", "operation_id"],
            ["casting_operations.project", "casting_operations.id"],
            ondelete="CASCADE",
        ),
    )


# One default variant per character. Partial, so it is the database's last word on the domain
# rule without constraining the non-default rows.
Index(
    "uq_character_variants_one_default",
    VariantRow.character_id,
    unique=True,
    sqlite_where=VariantRow.is_default,
    postgresql_where=VariantRow.is_default,
)


class SpendingRow(Base):
    """A project's spend for one month (USD millionths): its settled charges plus the open
    reservations. Reserving locks this row, so that replicas take turns at the cap."""

    __tablename__ = "project_spending"

    project: Mapped[str] = mapped_column(OWNER_ID, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # 2026-11, UTC
    spent_micros: Mapped[int] = mapped_column(BigInteger)


class ChargeRow(Base):
    """One drawing's charge: reserved at an estimate, then settled to what the model billed
    (cost_micros NULL until then)."""

    __tablename__ = "ledger"
    __table_args__ = (Index(None, "project", "month"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project: Mapped[str] = mapped_column(OWNER_ID)
    month: Mapped[str] = mapped_column(String(7))
    reserved_micros: Mapped[int] = mapped_column(BigInteger)
    cost_micros: Mapped[int | None] = mapped_column(BigInteger)
    model_calls: Mapped[int] = mapped_column(default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    create_time: Mapped[datetime]
    settle_time: Mapped[datetime | None]
