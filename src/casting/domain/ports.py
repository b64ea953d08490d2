"""Ports: what the use-cases need from the outside world, as Protocols.

Adapters in `casting.adapters` implement them; tests implement them in memory.
"""

from __future__ import annotations

import builtins
import enum
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, TypeVar

from casting.domain.documents import ActorDocument, CastDocument
from casting.domain.model import Actor, Sheet
from casting.domain.operations import CastingOperation, RoleOutcome
from casting.domain.pagination import PageRequest
from casting.domain.values import (
    Image,
    ImageBytes,
    ImageFacts,
    Style,
    TraitChanges,
    Traits,
    Usage,
    VerificationCheck,
)


@dataclass(frozen=True, slots=True)
class ActorFilter:
    """ListActors' filter: a display-name prefix, an approval state and whether any look failed
    verification (`verified=False`: actors with such a look), each optional."""

    display_name_prefix: str | None = None
    display_name: str | None = None
    approved: bool | None = None
    verified: bool | None = None


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """A create that already happened under a caller's request_id (AIP-155)."""

    project: str
    operation: str
    request_id: str
    fingerprint: str
    resource_id: str
    create_time: datetime


class ActorRepository(Protocol):
    async def add(self, actor: Actor) -> None:
        """Stages a new actor with its looks and casts."""

    async def get(self, project: str, actor_id: str, *, for_update: bool = False) -> Actor | None:
        """The whole aggregate, or None (also for another project's actor). `for_update`
        locks it until the unit of work ends, where the database can."""

    async def read(self, project: str, actor_id: str) -> Actor | None:
        """The whole aggregate as `get` gives it, for a call that only reads: it is not to be
        saved (a save checks against the version `get` read)."""

    async def save(self, actor: Actor) -> None:
        """Stages every change made to a loaded aggregate."""

    async def delete(self, actor: Actor) -> None:
        """Stages the removal of the actor, its looks and casts (not their images)."""

    async def list(self, project: str, where: ActorFilter, page: PageRequest) -> builtins.list[Actor]:
        """Up to page.size + 1 actors after page.after, newest first (the extra one tells
        whether another page exists)."""

    async def list_cast(self, project: str, story: str, page: PageRequest) -> builtins.list[Actor]:
        """Actors with an active look in `story`, like `list`."""


class ActorRenderer(Protocol):
    def __call__(self, actor: Actor) -> ActorDocument:
        """The documents reads answer `actor` with, as it is now."""


class ActorDocuments(Protocol):
    """The read side of the library: actors as rendered when last saved. An actor saved
    without rendering (by an older release, say) is rendered as it is read, never answered
    stale."""

    async def get(self, project: str, actor_id: str) -> ActorDocument | None:
        """The actor, or None (also for another project's actor)."""

    async def list(self, project: str, where: ActorFilter, page: PageRequest) -> builtins.list[ActorDocument]:
        """Like ActorRepository.list."""

    async def list_cast(self, project: str, story: str, page: PageRequest) -> builtins.list[CastDocument]:
        """Like ActorRepository.list_cast, each actor with its look cast in the story."""


Read = TypeVar("Read")


class ActorCache(Protocol[Read]):
    """Actors (aggregates or documents) read a moment ago, for reads that repeat. Only use-cases
    that read and change nothing may answer from it: a write must check the version it read
    against the database."""

    async def get(self, project: str, actor_id: str, load: Callable[[], Awaitable[Read]]) -> Read:
        """The actor as read a moment ago, else `load()`'s answer (kept for the next read)."""


class SheetRepository(Protocol):
    async def add(self, sheet: Sheet) -> None:
        """Adds a new sheet; its image is added first."""

    async def get(self, project: str, sheet_id: str, *, for_update: bool = False) -> Sheet | None: ...

    async def save(self, sheet: Sheet) -> None: ...

    async def delete_expired(self, now: datetime) -> int:
        """Stages the removal of every unsaved sheet expired at `now` (not its image);
        returns how many."""


class ImageRepository(Protocol):
    async def add(self, image: Image) -> None:
        """Adds a new image's row: before the sheet or look that shows it, which may be
        written at once."""

    async def get(self, project: str, image_id: str) -> Image | None: ...

    async def delete_unreferenced(self) -> int:
        """Stages the removal of every image row no sheet or look refers to, and of every
        thumbnail record of content no image row holds any more (not their blobs); returns
        how many image rows went."""

    async def referenced_blob_keys(self, keys: set[str]) -> set[str]:
        """Those of `keys` that some row still points at: an image or a thumbnail record."""


@dataclass(frozen=True, slots=True)
class Thumbnail:
    """A smaller copy of some image content, at one width. Blobs are addressed by their own
    bytes, so finding the thumbnail of some content needs this record; it names content, not an
    image row, so it belongs to no project and never goes stale."""

    source_sha256: str
    width: int
    blob_key: str
    mime_type: str
    height: int
    size_bytes: int


class ThumbnailRepository(Protocol):
    async def get(self, source_sha256: str, width: int) -> Thumbnail | None: ...

    async def save(self, thumbnail: Thumbnail) -> None:
        """Stages the record, replacing one of the same content and width."""


class IdempotencyRepository(Protocol):
    async def get(self, project: str, operation: str, request_id: str) -> IdempotencyRecord | None: ...

    async def add(self, record: IdempotencyRecord) -> None:
        """Adds a record; a live record under the same key is a Conflict, here or at the commit."""

    async def delete_expired(self, cutoff: datetime, key: tuple[str, str, str] | None = None) -> int:
        """Stages the removal of the records created at or before `cutoff` — only the one
        under `key` (project, operation, request_id) when given; returns how many."""


class OperationRepository(Protocol):
    async def add(self, operation: CastingOperation) -> None: ...

    async def get(
        self, project: str, operation_id: str, *, for_update: bool = False
    ) -> CastingOperation | None:
        """The operation with its outcomes, or None (also for another project's)."""

    async def list(
        self, project: str, page: PageRequest, story: str | None = None
    ) -> builtins.list[CastingOperation]:
        """Up to page.size + 1 operations after page.after, newest first (only `story`'s when given)."""

    async def save(self, operation: CastingOperation) -> None:
        """Stages a change of the operation's own fields (cancelled, update_time)."""

    async def add_outcome(self, project: str, operation_id: str, outcome: RoleOutcome) -> None:
        """Stages a role's outcome; a second outcome for the same role makes the commit a Conflict."""

    async def delete(self, project: str, operation_id: str) -> None: ...

    async def delete_expired(self, now: datetime) -> int:
        """Stages the removal of every operation expired at `now`; returns how many."""

    async def unfinished(self) -> builtins.list[CastingOperation]:
        """Every operation, of any project, not cancelled and with a role lacking an outcome."""


@dataclass(frozen=True, slots=True)
class Charge:
    """One drawing's entry in its project's spending ledger for `month` ("2026-11", UTC):
    reserved at an estimate before the model is called, settled later to what it cost."""

    id: str
    project: str
    month: str
    reserved_micros: int
    reserve_time: datetime
    # False: a project without a cap reserves nothing, and its charge is written when settled.
    reserved: bool = True


class LedgerRepository(Protocol):
    """What each project spent on models, a month at a time, in USD millionths."""

    async def reserve(self, charge: Charge) -> int:
        """Stages the charge at its reserved amount and returns what the project's month held
        before it (settled costs plus open reservations). The project's month stays locked
        until the unit of work ends, so reservations take turns across replicas."""

    async def extend(self, charge: Charge, micros: int) -> int:
        """Stages `micros` more on the charge's open reservation (another drawing of the same
        painting) and returns what the project's month held before, locked as reserve() does."""

    async def settle(self, charge: Charge, usage: Usage, at: datetime) -> None:
        """Stages the charge at `usage`'s cost in place of its reservation; a charge already
        settled is left as it is."""

    async def record(self, charge: Charge, usage: Usage, at: datetime) -> None:
        """Stages a charge that reserved nothing, at `usage`'s cost."""

    async def spent(self, project: str, month: str) -> int:
        """The month's spend so far: settled costs plus open reservations."""


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without commit() rolls back."""

    actors: ActorRepository
    sheets: SheetRepository
    images: ImageRepository
    idempotency: IdempotencyRepository
    thumbnails: ThumbnailRepository
    operations: OperationRepository

    ledger: LedgerRepository

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None:
        """Makes the staged changes durable; raises Conflict when a concurrent change won."""

    async def rollback(self) -> None: ...


class BlobStore(Protocol):
    """Content-addressed bytes: the key of a blob is the sha256 hex of its bytes. A key that is
    not 64 lowercase hex characters is a ValueError."""

    async def put(self, data: bytes) -> str:
        """Stores the bytes (atomically, idempotently) and returns their key. Putting bytes that
        are already stored refreshes their modification time, so that a collector's grace
        period counts from the latest writer."""

    async def get(self, key: str) -> bytes:
        """The bytes; KeyError when nothing is stored under the key."""

    def stream(self, key: str, chunk_size: int) -> AsyncIterator[bytes]:
        """The bytes in chunks of at most chunk_size, without loading them whole; KeyError when
        nothing is stored under the key."""

    async def delete(self, key: str) -> None:
        """Removes the blob; a missing key is fine."""

    def keys(self) -> AsyncIterator[tuple[str, datetime]]:
        """Every stored key with its last modification time (UTC), for the collector."""


class GenerationKind(enum.Enum):
    SHEET = "sheet"
    VARIANT = "variant"


@dataclass(frozen=True, slots=True)
class GenerationSpec:
    """What to draw. For a VARIANT, `base_traits` are the parent's and `changes` what differs;
    the references passed beside the spec are the parent's sheet first, then the root's."""

    kind: GenerationKind
    traits: Traits
    story_style: Style
    image_style: Style
    base_traits: Traits | None = None
    changes: TraitChanges = field(default_factory=TraitChanges)
    # "" for the model's default, else "1K", "2K" or "4K" where the model offers it.
    image_size: str = ""


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    data: bytes
    mime_type: str
    generator: str
    model: str
    prompt_version: str
    prompt_sha256: str
    usage: Usage = Usage()


class ImageGenerator(Protocol):
    async def generate(self, spec: GenerationSpec, references: list[ImageBytes]) -> GeneratedImage:
        """Draws one sheet. Raises GenerationBlocked, UpstreamBusy or UpstreamUnavailable."""


class Budgets(Protocol):
    """Monthly spending caps per project."""

    def monthly_cap_micros(self, project: str) -> int | None:
        """The project's cap for a month in USD millionths; None: no cap."""


@dataclass(frozen=True, slots=True)
class Judgement:
    """A judge's answer on one drawing. `identity_score` (0 to 1, higher = surely the same
    person) is None when there was no reference to compare with; `checks` hold one verdict per
    sheet rule the judge could see (passed = the drawing keeps the rule)."""

    identity_score: float | None
    checks: tuple[VerificationCheck, ...]
    judge: str
    usage: Usage = Usage()


class Judge(Protocol):
    async def judge(
        self, spec: GenerationSpec, candidate: ImageBytes, references: list[ImageBytes]
    ) -> Judgement:
        """Judges `candidate`, drawn from `spec`, against `references` (the identity anchor
        first, the lineage root after; none for a first sheet). Raises UpstreamBusy or
        UpstreamUnavailable when it cannot answer."""


class ImageCodec(Protocol):
    """Decodes images to learn what they really are."""

    async def inspect(self, data: bytes) -> ImageFacts:
        """Format and size by content, after an integrity check cheaper than a full decode
        (for the model's images); InvalidImage for anything not a sound PNG/JPEG/WebP, or too
        large to decode within the server's memory budget."""

    async def sanitize(self, data: bytes) -> tuple[bytes, ImageFacts]:
        """The image re-encoded in its own format without metadata (EXIF, GPS, comments).
        Decodes wait their turn for memory, off the event loop."""


class Thumbnailer(Protocol):
    """Scales stored images down for lists and grids."""

    async def shrink(self, data: bytes, width: int) -> tuple[bytes, ImageFacts]:
        """The image `width` pixels wide (never wider than it was), its aspect kept, encoded
        small; the same bytes in give the same bytes out. InvalidImage when it is too large to
        decode within the server's memory budget."""


class CastingEngine(Protocol):
    """Runs the steps of story castings: one step per role, keyed by (operation, role), each run
    to completion at least once even when the process running it dies. A step is idempotent, so
    a step that runs again makes nothing twice."""

    async def enqueue(self, project: str, operation_id: str, roles: builtins.list[int]) -> None:
        """Schedules these roles' steps; a role already scheduled is not scheduled twice."""


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""


class IdFactory(Protocol):
    def new_id(self) -> str:
        """A new unique id (a lowercase UUID)."""
