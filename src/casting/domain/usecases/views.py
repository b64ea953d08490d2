"""What read use-cases return: entities with the context a caller needs to show them."""

from __future__ import annotations

from dataclasses import dataclass

from casting.domain.model import Actor, Variant


@dataclass(frozen=True, slots=True)
class ActorView:
    """An actor with the looks a caller asked to see (global, plus one story's)."""

    actor: Actor
    variants: list[Variant]


@dataclass(frozen=True, slots=True)
class VariantView:
    """A look with its actor, which knows the look's casts and names."""

    actor: Actor
    variant: Variant


@dataclass(frozen=True, slots=True)
class ActorPage:
    actors: list[ActorView]
    next_page_token: str


@dataclass(frozen=True, slots=True)
class CastPage:
    members: list[VariantView]
    next_page_token: str
