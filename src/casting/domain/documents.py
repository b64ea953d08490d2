"""The read side's actors: documents rendered from the aggregate when it is saved, so that a
read answers without rebuilding the aggregate (CQRS-style, as cosmicpython's views). The
domain keeps them opaque bytes: the entrypoint renders them (ports.ActorRenderer) and reads
them back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class LookDocument:
    id: str
    story: str | None
    document: bytes


@dataclass(frozen=True, slots=True)
class ActorDocument:
    """An actor as rendered when last saved: `actor` is the actor with its global looks (as
    ListActors shows it); `looks` are look documents read with it: every look when rendered,
    the story-scoped ones when read for one actor, none in a page."""

    project: str
    id: str
    create_time: datetime
    actor: bytes
    looks: tuple[LookDocument, ...] = ()

    def story_looks(self, story: str | None) -> list[bytes]:
        """The looks a caller asking about `story` sees besides the global ones (as
        Actor.visible_variants: the global looks, then the story's)."""
        if story is None:
            return []
        return [look.document for look in self.looks if look.story == story]


@dataclass(frozen=True, slots=True)
class CastDocument:
    """One actor cast in a story, with its look in that story."""

    project: str
    id: str
    create_time: datetime
    display_name: str
    look: bytes
