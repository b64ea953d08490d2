"""CastStory and the long-running operations it makes: start one, run its roles' steps on the
casting engine, and get, list, wait for, cancel or delete it.

Each role's step is keyed by (operation, role): every create it makes goes through the
idempotency records under request ids derived from that key, written in the transaction that
makes the sheet, actor or look. A step that runs again after a crash replays what was made,
so it never makes a second actor or look, and draws again only what was not yet stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from casting.domain import names, styles, workload
from casting.domain.errors import (
    Conflict,
    DomainError,
    FieldViolation,
    InvalidInput,
    NotFound,
    StorageUnavailable,
)
from casting.domain.operations import (
    MAX_ROLE_CHARS,
    MAX_ROLES,
    CastingCall,
    CastingOperation,
    RoleFailure,
    RoleOutcome,
)
from casting.domain.pagination import Cursor, page_request, split_page
from casting.domain.ports import CastingEngine, Clock, IdFactory, UnitOfWork
from casting.domain.usecases.actors import SaveActor, SaveActorCommand, load_actor, raise_if
from casting.domain.usecases.candidates import MAX_CANDIDATES, GenerateSheets, GenerateSheetsCommand
from casting.domain.usecases.cast import CastVariant
from casting.domain.usecases.idempotency import Idempotency, RequestKey, request_id_violations, request_key
from casting.domain.usecases.variants import BranchVariant, BranchVariantCommand
from casting.domain.usecases.views import VariantView
from casting.domain.values import text_violation

log = logging.getLogger("casting.story_casting")

# How often WaitOperation looks again: another replica may be the one finishing the operation.
WAIT_POLL_SECONDS = 0.2
# WaitOperation without a timeout waits at most this long (the caller's deadline may cut it).
DEFAULT_WAIT = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class CastStoryCommand:
    project: str
    story: str
    calls: tuple[CastingCall, ...]
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class CastMemberView:
    role: str
    look: VariantView


@dataclass(frozen=True, slots=True)
class OperationView:
    """An operation, and once it is done, the story's cast it made (roles whose actor is gone
    since are left out)."""

    operation: CastingOperation
    cast: list[CastMemberView]


@dataclass(frozen=True, slots=True)
class OperationPage:
    operations: list[OperationView]
    next_page_token: str


def call_violations(calls: tuple[CastingCall, ...]) -> list[FieldViolation]:
    if not 1 <= len(calls) <= MAX_ROLES:
        return [FieldViolation("roles", f"name 1 to {MAX_ROLES} roles")]
    found: list[FieldViolation] = []
    seen: set[str] = set()
    for index, call in enumerate(calls):
        at = f"roles[{index}]."
        found += text_violation(f"{at}role", call.role, MAX_ROLE_CHARS, required=True)
        if call.role in seen:
            found.append(FieldViolation(f"{at}role", "names a role already named"))
        seen.add(call.role)
        if call.reuses:
            found += styles.style_violations(
                call.story_style or None,
                call.image_style or None,
                story_field=f"{at}story_style",
                image_field=f"{at}image_style",
            )
            found += call.trait_changes.violations(f"{at}trait_changes")
        elif call.traits is None:
            found.append(FieldViolation(f"{at}who", "name an actor to reuse, or traits to draw one"))
        else:
            found += styles.style_violations(
                call.story_style,
                call.image_style,
                story_field=f"{at}story_style",
                image_field=f"{at}image_style",
            )
            found += call.traits.violations(f"{at}traits")
            if not call.trait_changes.is_empty():
                found.append(FieldViolation(f"{at}trait_changes", "only applies to a reused actor"))
        if not 0 <= call.candidate_count <= MAX_CANDIDATES:
            found.append(FieldViolation(f"{at}candidate_count", f"must be 1 to {MAX_CANDIDATES}"))
    return found


async def operation_view(uow: UnitOfWork, operation: CastingOperation) -> OperationView:
    cast = []
    if operation.done:
        for index, outcome in sorted(operation.outcomes.items()):
            if outcome.actor_id is None or outcome.variant_id is None:
                continue
            actor = await uow.actors.get(operation.project, outcome.actor_id)
            look = next((v for v in actor.variants if v.id == outcome.variant_id), None) if actor else None
            if actor is not None and look is not None:
                cast.append(CastMemberView(operation.calls[index].role, VariantView(actor, look)))
    return OperationView(operation, cast)


async def live_operation(
    uow: UnitOfWork, project: str, operation_id: str, now: datetime, *, for_update: bool = False
) -> CastingOperation:
    """The operation, unless it is unknown, of another project, or expired: NotFound."""
    operation = await uow.operations.get(project, operation_id, for_update=for_update)
    if operation is None or operation.is_expired(now):
        raise NotFound("operation", names.operation(project, operation_id))
    return operation


class StartCastStory:
    """Records the operation and hands its roles to the engine; answers at once."""

    operation = "CastStory"

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        engine: CastingEngine,
        idempotency: Idempotency,
        ids: IdFactory,
        clock: Clock,
        operation_ttl: timedelta,
    ) -> None:
        self._uow = uow
        self._engine = engine
        self._idempotency = idempotency
        self._ids = ids
        self._clock = clock
        self._ttl = operation_ttl

    async def __call__(self, command: CastStoryCommand) -> OperationView:
        raise_if(call_violations(command.calls) + request_id_violations(command.request_id))
        key = request_key(self.operation, command)
        operation = await self._idempotency.create_once(
            self._uow, key, self._replay, lambda: self._start(command, key)
        )
        # Also on a replay: had the first call died before this, its roles would wait for a restart.
        await self._engine.enqueue(operation.project, operation.id, operation.pending_roles())
        return OperationView(operation, [])

    async def _replay(self, uow: UnitOfWork, project: str, operation_id: str) -> CastingOperation:
        return await live_operation(uow, project, operation_id, self._clock.now())

    async def _start(self, command: CastStoryCommand, key: RequestKey) -> CastingOperation:
        now = self._clock.now()
        operation = CastingOperation(
            id=self._ids.new_id(),
            project=command.project,
            story=command.story,
            calls=tuple(replace(c, candidate_count=c.candidate_count or 1) for c in command.calls),
            create_time=now,
            update_time=now,
            expire_time=now + self._ttl,
        )
        async with self._uow() as uow:
            for call in operation.calls:
                if call.actor_id is not None:
                    await load_actor(uow, command.project, call.actor_id)
            await uow.operations.add(operation)
            await self._idempotency.remember(uow, key, operation.id)
            await uow.commit()
        return operation


class CastRole:
    """One role's step: reuse the actor (branching a story look when changes are asked) or draw
    and save a new one, cast the look in the story, and record the outcome. Safe to run again."""

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        generate_sheets: GenerateSheets,
        save_actor: SaveActor,
        branch_variant: BranchVariant,
        cast_variant: CastVariant,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._generate_sheets = generate_sheets
        self._save_actor = save_actor
        self._branch_variant = branch_variant
        self._cast_variant = cast_variant
        self._clock = clock

    async def __call__(self, project: str, operation_id: str, index: int) -> None:
        async with self._uow() as uow:
            operation = await uow.operations.get(project, operation_id)
        if operation is None or index not in operation.pending_roles():
            return  # deleted, cancelled, or already done by an earlier run
        call = operation.calls[index]
        try:
            with workload.batch():
                actor_id, look_id = await self._cast(operation, index, call)
            outcome = RoleOutcome(index, actor_id, look_id, None, self._clock.now())
        except StorageUnavailable:
            raise  # the database out of reach is no answer about the role: the engine retries it
        except DomainError as error:
            failure = RoleFailure(type(error).__name__, error.reason, error.message)
            outcome = RoleOutcome(index, None, None, failure, self._clock.now())
        except Exception:
            # A bug: the role fails with nothing internal shown; the log has the rest.
            log.exception("casting role %d of operation %s failed", index, operation_id)
            failure = RoleFailure("Internal", "INTERNAL", "internal error")
            outcome = RoleOutcome(index, None, None, failure, self._clock.now())
        await self._record(project, operation_id, outcome)

    async def _cast(self, operation: CastingOperation, index: int, call: CastingCall) -> tuple[str, str]:
        project = operation.project
        request_id = f"{operation.id}.{index}"
        if call.actor_id is not None:
            actor_id = call.actor_id
            if call.trait_changes.is_empty() and not (call.story_style or call.image_style):
                async with self._uow() as uow:
                    look_id = (await load_actor(uow, project, actor_id)).default_variant.id
            else:
                async with self._uow() as uow:
                    base = (await load_actor(uow, project, actor_id)).default_variant
                branched = await self._branch_variant(
                    BranchVariantCommand(
                        project=project,
                        actor_id=actor_id,
                        base_variant_id=base.id,
                        display_name=call.role,
                        story_style=call.story_style,
                        image_style=call.image_style,
                        trait_changes=call.trait_changes,
                        story=operation.story,
                        request_id=f"{request_id}.look",
                    )
                )
                look_id = branched.variant.id
        else:
            assert call.traits is not None
            # Best first: verified before failed, then by identity score; the others expire as
            # previews. One call, one request id: a retried step replays the drawings stored.
            best, *_ = await self._generate_sheets(
                GenerateSheetsCommand(
                    project=project,
                    story_style=call.story_style,
                    image_style=call.image_style,
                    traits=call.traits,
                    candidate_count=call.candidate_count,
                    request_id=f"{request_id}.sheets",
                )
            )
            saved = await self._save_actor(
                SaveActorCommand(
                    project=project,
                    sheet_id=best.id,
                    display_name=call.role,
                    request_id=f"{request_id}.actor",
                )
            )
            actor_id, look_id = saved.actor.id, saved.actor.default_variant.id
        await self._cast_variant(project, actor_id, look_id, operation.story)
        return actor_id, look_id

    async def _record(self, project: str, operation_id: str, outcome: RoleOutcome) -> None:
        try:
            async with self._uow() as uow:
                # Locked, so that concurrent steps of one operation take turns on its progress.
                operation = await uow.operations.get(project, operation_id, for_update=True)
                if operation is None or outcome.index in operation.outcomes:
                    return
                await uow.operations.add_outcome(project, operation_id, outcome)
                operation.update_time = outcome.finish_time
                await uow.operations.save(operation)
                await uow.commit()
        except Conflict:
            pass  # another run of this step recorded it first


class GetOperation:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, project: str, operation_id: str) -> OperationView:
        async with self._uow() as uow:
            operation = await live_operation(uow, project, operation_id, self._clock.now())
            return await operation_view(uow, operation)


def operation_cursor(view: OperationView) -> Cursor:
    return Cursor(view.operation.create_time, view.operation.id)


class ListOperations:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(
        self, project: str, filter_text: str, page_size: int, page_token: str, story: str | None = None
    ) -> OperationPage:
        """The project's live operations, newest first (only one story's when `story` is given).
        No filter expression is supported yet."""
        if filter_text:
            raise InvalidInput.field("filter", "is not supported")
        query = f"operations|{project}|{story or ''}"
        page = page_request(page_size, page_token, query)
        now = self._clock.now()
        async with self._uow() as uow:
            rows = await uow.operations.list(project, page, story)
            views = [await operation_view(uow, op) for op in rows if not op.is_expired(now)]
        shown, token = split_page(views, page, query, operation_cursor)
        return OperationPage(shown, token)


class WaitOperation:
    def __init__(self, get: GetOperation, poll_seconds: float = WAIT_POLL_SECONDS) -> None:
        self._get = get
        self._poll = poll_seconds

    async def __call__(self, project: str, operation_id: str, wait: timedelta | None) -> OperationView:
        """The operation once done, or as it stands when `wait` (default 60 s) has passed."""
        loop = asyncio.get_running_loop()
        until = loop.time() + (DEFAULT_WAIT if wait is None else wait).total_seconds()
        while True:
            view = await self._get(project, operation_id)
            left = until - loop.time()
            if view.operation.done or left <= 0:
                return view
            await asyncio.sleep(min(self._poll, left))


class CancelOperation:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, project: str, operation_id: str) -> None:
        """Stops the roles not yet started; the ones done stay done. A done operation is left as is."""
        now = self._clock.now()
        async with self._uow() as uow:
            operation = await live_operation(uow, project, operation_id, now, for_update=True)
            operation.cancel(now)
            await uow.operations.save(operation)
            await uow.commit()


class DeleteOperation:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, project: str, operation_id: str) -> None:
        """Forgets the operation (not what it cast); its roles not yet started never start."""
        now = self._clock.now()
        async with self._uow() as uow:
            await live_operation(uow, project, operation_id, now, for_update=True)
            await uow.operations.delete(project, operation_id)
            await uow.commit()


class ResumeCasting:
    """At start-up: hands the engine every unfinished role again (a process that died may have
    left some); the engine does not schedule a role twice, and a step that ran is not redone."""

    def __init__(self, uow: Callable[[], UnitOfWork], engine: CastingEngine) -> None:
        self._uow = uow
        self._engine = engine

    async def __call__(self) -> int:
        async with self._uow() as uow:
            unfinished = await uow.operations.unfinished()
        for operation in unfinished:
            await self._engine.enqueue(operation.project, operation.id, operation.pending_roles())
        return len(unfinished)
