"""In-memory fakes of the ports, for use-case tests (cosmicpython's fakes.py)."""

from __future__ import annotations

import copy
import hashlib
import struct
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

from casting.domain.errors import Conflict, InvalidImage
from casting.domain.model import Actor, Sheet
from casting.domain.operations import CastingOperation, RoleOutcome
from casting.domain.pagination import PageRequest
from casting.domain.ports import (
    ActorFilter,
    Charge,
    GeneratedImage,
    GenerationSpec,
    IdempotencyRecord,
    Judgement,
    Thumbnail,
)
from casting.domain.values import Image, ImageBytes, ImageFacts, Usage, VerificationCheck


def png(width: int, height: int, colour: tuple[int, int, int] = (200, 180, 160)) -> bytes:
    """A real, minimal RGB PNG of one colour, made with the standard library."""
    row = b"\x00" + bytes(colour) * width
    raw = zlib.compress(row * height)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


class PngHeaderCodec:
    """Reads a PNG's size from its header; refuses anything else."""

    async def inspect(self, data: bytes) -> ImageFacts:
        if not data.startswith(b"\x89PNG\r\n\x1a\n") or len(data) < 24:
            raise InvalidImage("not a PNG")
        width, height = struct.unpack(">II", data[16:24])
        return ImageFacts("image/png", width, height)

    async def sanitize(self, data: bytes) -> tuple[bytes, ImageFacts]:
        return data, await self.inspect(data)


@dataclass
class FakeGenerator:
    """Draws a one-colour PNG of the given size; records every call; can be told to fail."""

    width: int = 72
    height: int = 128
    calls: list[tuple[GenerationSpec, list[ImageBytes]]] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)
    # What each drawing bills: 1000 tokens in, a 1290-token image out, USD millionths.
    usage: Usage = Usage(model_calls=1, input_tokens=1000, output_tokens=1290, cost_micros=39_000)
    drawn: int = 0  # every drawing another shade, even after `calls` is cleared

    async def generate(self, spec: GenerationSpec, references: list[ImageBytes]) -> GeneratedImage:
        self.calls.append((spec, references))
        if self.failures:
            raise self.failures.pop(0)
        self.drawn += 1
        shade = self.drawn % 250
        return GeneratedImage(
            data=png(self.width, self.height, (shade, 100, 200)),
            mime_type="image/png",
            generator="fake",
            model="fake-1",
            prompt_version="fake-v1",
            prompt_sha256=hashlib.sha256(repr(spec).encode()).hexdigest(),
            usage=self.usage,
        )


# What each judging bills: the references and the drawing in, a verdict out, USD millionths.
JUDGING = Usage(model_calls=1, input_tokens=100, output_tokens=10, cost_micros=55)


@dataclass
class ScriptedJudge:
    """Answers each judging with the next scripted identity score (then `score`), every rule
    passing unless `failing` names it; an exception in the script is raised instead."""

    score: float = 1.0
    failing: tuple[str, ...] = ()
    script: list[float | Exception] = field(default_factory=list)
    calls: list[tuple[GenerationSpec, ImageBytes, list[ImageBytes]]] = field(default_factory=list)

    async def judge(
        self, spec: GenerationSpec, candidate: ImageBytes, references: list[ImageBytes]
    ) -> Judgement:
        self.calls.append((spec, candidate, references))
        answer = self.script.pop(0) if self.script else self.score
        if isinstance(answer, Exception):
            raise answer
        checks = tuple(
            VerificationCheck(rule, rule not in self.failing) for rule in ("aspect_9_16", "no_text")
        )
        return Judgement(
            identity_score=answer if references else None, checks=checks, judge="scripted", usage=JUDGING
        )


class FakeBlobStore:
    """Blobs in a dict; each put's time comes from `clock` (the system's when not given)."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.blobs: dict[str, bytes] = {}
        self.modified: dict[str, datetime] = {}
        self._clock = clock

    async def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        self.blobs[key] = data
        self.modified[key] = self._clock.now() if self._clock else datetime.now(UTC)
        return key

    async def get(self, key: str) -> bytes:
        return self.blobs[key]

    async def stream(self, key: str, chunk_size: int) -> AsyncIterator[bytes]:
        data = self.blobs[key]
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]

    async def delete(self, key: str) -> None:
        self.blobs.pop(key, None)
        self.modified.pop(key, None)

    async def keys(self) -> AsyncIterator[tuple[str, datetime]]:
        for key, modified in list(self.modified.items()):
            yield key, modified


@dataclass
class Tables:
    actors: dict[tuple[str, str], Actor] = field(default_factory=dict)
    sheets: dict[tuple[str, str], Sheet] = field(default_factory=dict)
    images: dict[tuple[str, str], Image] = field(default_factory=dict)
    idempotency: dict[tuple[str, str, str], IdempotencyRecord] = field(default_factory=dict)
    thumbnails: dict[tuple[str, int], Thumbnail] = field(default_factory=dict)
    charges: dict[str, tuple[Charge, Usage | None]] = field(default_factory=dict)
    operations: dict[tuple[str, str], CastingOperation] = field(default_factory=dict)


class _Repository:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    @property
    def _tables(self) -> Tables:
        return self._uow.staged


class FakeActors(_Repository):
    async def add(self, actor: Actor) -> None:
        self._tables.actors[(actor.project, actor.id)] = actor

    async def get(self, project: str, actor_id: str, *, for_update: bool = False) -> Actor | None:
        return self._tables.actors.get((project, actor_id))

    async def read(self, project: str, actor_id: str) -> Actor | None:
        return self._tables.actors.get((project, actor_id))

    async def save(self, actor: Actor) -> None:
        self._tables.actors[(actor.project, actor.id)] = actor

    async def delete(self, actor: Actor) -> None:
        del self._tables.actors[(actor.project, actor.id)]
        for key, sheet in list(self._tables.sheets.items()):
            if sheet.actor_id == actor.id:
                del self._tables.sheets[key]  # a saved sheet goes with its actor

    async def list(self, project: str, where: ActorFilter, page: PageRequest) -> list[Actor]:
        def keep(a: Actor) -> bool:
            return (
                a.project == project
                and (where.display_name is None or a.display_name == where.display_name)
                and (
                    where.display_name_prefix is None or a.display_name.startswith(where.display_name_prefix)
                )
                and (where.approved is None or a.approved == where.approved)
                and (
                    where.verified is None or where.verified != any(v.failed_verification for v in a.variants)
                )
            )

        return self._after([a for a in self._tables.actors.values() if keep(a)], page)

    async def list_cast(self, project: str, story: str, page: PageRequest) -> list[Actor]:
        cast = [a for a in self._tables.actors.values() if a.project == project and story in a.casts]
        return self._after(cast, page)

    @staticmethod
    def _after(actors: list[Actor], page: PageRequest) -> list[Actor]:
        ordered = sorted(actors, key=lambda a: (a.create_time, a.id), reverse=True)
        if page.after is not None:
            after = (page.after.create_time, page.after.id)
            ordered = [a for a in ordered if (a.create_time, a.id) < after]
        return ordered[: page.size + 1]


class FakeSheets(_Repository):
    async def add(self, sheet: Sheet) -> None:
        self._tables.sheets[(sheet.project, sheet.id)] = sheet

    async def get(self, project: str, sheet_id: str, *, for_update: bool = False) -> Sheet | None:
        return self._tables.sheets.get((project, sheet_id))

    async def save(self, sheet: Sheet) -> None:
        self._tables.sheets[(sheet.project, sheet.id)] = sheet

    async def delete_expired(self, now: datetime) -> int:
        expired = [key for key, sheet in self._tables.sheets.items() if sheet.is_expired(now)]
        for key in expired:
            del self._tables.sheets[key]
        return len(expired)


class FakeImages(_Repository):
    async def add(self, image: Image) -> None:
        self._tables.images[(image.project, image.id)] = image

    async def get(self, project: str, image_id: str) -> Image | None:
        return self._tables.images.get((project, image_id))

    async def delete_unreferenced(self) -> int:
        referenced = {sheet.image.id for sheet in self._tables.sheets.values()}
        for actor in self._tables.actors.values():
            for look in actor.variants:
                referenced.update(image.id for image in look.images)
                if look.reference_image is not None:
                    referenced.add(look.reference_image.id)
        unreferenced = [key for key, image in self._tables.images.items() if image.id not in referenced]
        for key in unreferenced:
            del self._tables.images[key]
        held = {image.sha256 for image in self._tables.images.values()}
        for key, thumbnail in list(self._tables.thumbnails.items()):
            if thumbnail.source_sha256 not in held:
                del self._tables.thumbnails[key]
        return len(unreferenced)

    async def referenced_blob_keys(self, keys: set[str]) -> set[str]:
        rows = [*self._tables.images.values(), *self._tables.thumbnails.values()]
        return keys & {row.blob_key for row in rows}


class FakeIdempotency(_Repository):
    async def get(self, project: str, operation: str, request_id: str) -> IdempotencyRecord | None:
        return self._tables.idempotency.get((project, operation, request_id))

    async def add(self, record: IdempotencyRecord) -> None:
        key = (record.project, record.operation, record.request_id)
        if key in self._tables.idempotency:
            raise Conflict("the request id was recorded concurrently")  # the primary key, in SQL
        self._tables.idempotency[key] = record

    async def delete_expired(self, cutoff: datetime, key: tuple[str, str, str] | None = None) -> int:
        expired = [
            k
            for k, record in self._tables.idempotency.items()
            if record.create_time <= cutoff and key in (None, k)
        ]
        for k in expired:
            del self._tables.idempotency[k]
        return len(expired)


class FakeThumbnails(_Repository):
    async def get(self, source_sha256: str, width: int) -> Thumbnail | None:
        return self._tables.thumbnails.get((source_sha256, width))

    async def save(self, thumbnail: Thumbnail) -> None:
        self._tables.thumbnails[(thumbnail.source_sha256, thumbnail.width)] = thumbnail


class FakeLedger(_Repository):
    async def reserve(self, charge: Charge) -> int:
        before = await self.spent(charge.project, charge.month)
        self._tables.charges[charge.id] = (charge, None)
        return before

    async def extend(self, charge: Charge, micros: int) -> int:
        before = await self.spent(charge.project, charge.month)
        held, _ = self._tables.charges[charge.id]
        self._tables.charges[charge.id] = (replace(held, reserved_micros=held.reserved_micros + micros), None)
        return before

    async def settle(self, charge: Charge, usage: Usage, at: datetime) -> None:
        if self._tables.charges[charge.id][1] is None:
            self._tables.charges[charge.id] = (charge, usage)

    async def record(self, charge: Charge, usage: Usage, at: datetime) -> None:
        self._tables.charges[charge.id] = (charge, usage)

    async def spent(self, project: str, month: str) -> int:
        return sum(
            charge.reserved_micros if usage is None else usage.cost_micros
            for charge, usage in self._tables.charges.values()
            if (charge.project, charge.month) == (project, month)
        )


@dataclass
class FixedBudgets:
    """Caps per project in USD millionths; a project not listed has none."""

    caps: dict[str, int] = field(default_factory=dict)

    def monthly_cap_micros(self, project: str) -> int | None:
        return self.caps.get(project)


class FakeOperations(_Repository):
    async def add(self, operation: CastingOperation) -> None:
        self._tables.operations[(operation.project, operation.id)] = operation

    async def get(
        self, project: str, operation_id: str, *, for_update: bool = False
    ) -> CastingOperation | None:
        return self._tables.operations.get((project, operation_id))

    async def list(self, project: str, page: PageRequest, story: str | None = None) -> list[CastingOperation]:
        found = [
            op
            for (p, _), op in self._tables.operations.items()
            if p == project
            and story in (None, op.story)
            and (page.after is None or (op.create_time, op.id) < (page.after.create_time, page.after.id))
        ]
        return sorted(found, key=lambda op: (op.create_time, op.id), reverse=True)[: page.size + 1]

    async def save(self, operation: CastingOperation) -> None:
        self._tables.operations[(operation.project, operation.id)] = operation

    async def add_outcome(self, project: str, operation_id: str, outcome: RoleOutcome) -> None:
        operation = self._tables.operations[(project, operation_id)]
        if outcome.index in operation.outcomes:
            raise Conflict("the role's outcome was recorded concurrently")  # the primary key, in SQL
        operation.outcomes[outcome.index] = outcome

    async def delete(self, project: str, operation_id: str) -> None:
        self._tables.operations.pop((project, operation_id), None)

    async def delete_expired(self, now: datetime) -> int:
        expired = [key for key, op in self._tables.operations.items() if op.is_expired(now)]
        for key in expired:
            del self._tables.operations[key]
        return len(expired)

    async def unfinished(self) -> list[CastingOperation]:
        return [op for op in self._tables.operations.values() if op.pending_roles()]


class FakeUnitOfWork:
    """A transaction over shared Tables: works on a deep copy, publishes it on commit."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.staged = tables
        self.commits = 0
        self.actors = FakeActors(self)
        self.sheets = FakeSheets(self)
        self.images = FakeImages(self)
        self.idempotency = FakeIdempotency(self)
        self.thumbnails = FakeThumbnails(self)
        self.ledger = FakeLedger(self)
        self.operations = FakeOperations(self)

    async def __aenter__(self) -> Self:
        self.staged = copy.deepcopy(self.tables)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.rollback()

    async def commit(self) -> None:
        self.tables.__dict__.update(copy.deepcopy(self.staged).__dict__)
        self.commits += 1

    async def rollback(self) -> None:
        self.staged = copy.deepcopy(self.tables)


class NoActorCache:
    """An ActorCache that keeps nothing: every read loads."""

    async def get(self, project: str, actor_id: str, load: Callable[[], Awaitable[Actor]]) -> Actor:
        return await load()


class FakeClock:
    def __init__(self) -> None:
        self.current = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        self.current += timedelta(milliseconds=1)  # distinct, ordered create times
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


class SequentialIds:
    def __init__(self) -> None:
        self.count = 0

    def new_id(self) -> str:
        self.count += 1
        return f"00000000-0000-4000-8000-{self.count:012d}"
