"""Story casting as a long-running operation: the roles asked for, and what became of each.

An operation is done when every role has an outcome, or when it was cancelled: then the roles
without an outcome are never started, and those with one stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from casting.domain.values import TraitChanges, Traits

MAX_ROLES = 50
MAX_ROLE_CHARS = 128


@dataclass(frozen=True, slots=True)
class CastingCall:
    """One character a story needs: `actor_id` to reuse a library actor (a story-scoped look is
    branched when `trait_changes` or a style differ), else `traits` to draw a new one."""

    role: str
    actor_id: str | None = None
    traits: Traits | None = None
    story_style: str = ""
    image_style: str = ""
    trait_changes: TraitChanges = TraitChanges()
    candidate_count: int = 1

    @property
    def reuses(self) -> bool:
        return self.actor_id is not None


@dataclass(frozen=True, slots=True)
class RoleFailure:
    """Why a role could not be cast: the domain error's kind (its class name, "Internal" for a
    bug), its documented reason and its message, which callers may see."""

    kind: str
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class RoleOutcome:
    """What a role's step made (the actor and the look cast in the story), or why it failed."""

    index: int
    actor_id: str | None
    variant_id: str | None
    failure: RoleFailure | None
    finish_time: datetime


@dataclass(slots=True)
class CastingOperation:
    id: str
    project: str
    story: str
    calls: tuple[CastingCall, ...]
    create_time: datetime
    update_time: datetime
    expire_time: datetime
    cancelled: bool = False
    outcomes: dict[int, RoleOutcome] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.cancelled or len(self.outcomes) == len(self.calls)

    def pending_roles(self) -> list[int]:
        """The roles still to cast, by index; none once cancelled."""
        if self.cancelled:
            return []
        return [index for index in range(len(self.calls)) if index not in self.outcomes]

    def failures(self) -> list[tuple[CastingCall, RoleFailure]]:
        return [
            (self.calls[index], outcome.failure)
            for index, outcome in sorted(self.outcomes.items())
            if outcome.failure is not None
        ]

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expire_time

    def cancel(self, now: datetime) -> None:
        """Stops the roles not yet started; a done operation stays as it ended."""
        if not self.done:
            self.cancelled = True
            self.update_time = now
