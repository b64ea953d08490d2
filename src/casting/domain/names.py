"""Resource names (AIP-122): formatting, and strict parsing into ids.

A malformed name is InvalidInput naming the request field; a well-formed name of something
that does not exist is NotFound, raised later by the use-case.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from casting.domain.errors import InvalidInput

_PROJECT_OR_STORY = re.compile(r"[a-z0-9-]{1,63}")


def project(project_id: str) -> str:
    return f"projects/{project_id}"


def story(project_id: str, story_id: str) -> str:
    return f"projects/{project_id}/stories/{story_id}"


def sheet(project_id: str, sheet_id: str) -> str:
    return f"projects/{project_id}/sheets/{sheet_id}"


def image(project_id: str, image_id: str) -> str:
    return f"projects/{project_id}/images/{image_id}"


def operation(project_id: str, operation_id: str) -> str:
    return f"projects/{project_id}/operations/{operation_id}"


def actor(project_id: str, actor_id: str) -> str:
    return f"projects/{project_id}/actors/{actor_id}"


def variant(project_id: str, actor_id: str, variant_id: str) -> str:
    return f"projects/{project_id}/actors/{actor_id}/variants/{variant_id}"


@dataclass(frozen=True, slots=True)
class ChildName:
    """A parsed `projects/{project}/{collection}/{id}` name."""

    project: str
    id: str


@dataclass(frozen=True, slots=True)
class VariantName:
    project: str
    actor_id: str
    variant_id: str


def _owner_id(value: str) -> str | None:
    """A project or story id as the story pipeline makes them: [a-z0-9-]{1,63} or a UUID."""
    if _PROJECT_OR_STORY.fullmatch(value):
        return value
    return _server_id(value)


def _server_id(value: str) -> str | None:
    """A server-made id: a UUID, in its canonical lowercase form."""
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return None
    canonical = str(parsed)
    return canonical if canonical == value.lower() else None


def _malformed(field: str, pattern: str) -> InvalidInput:
    return InvalidInput.field(field, f"must be a resource name like {pattern}")


def parse_project(value: str, field: str) -> str:
    parts = value.split("/")
    if len(parts) == 2 and parts[0] == "projects" and (pid := _owner_id(parts[1])):
        return pid
    raise _malformed(field, "projects/{project}")


def _parse_child(
    value: str, field: str, collection: str, id_parser: Callable[[str], str | None]
) -> ChildName:
    parts = value.split("/")
    pattern = f"projects/{{project}}/{collection}/{{{collection[:-1]}}}"
    if len(parts) == 4 and parts[0] == "projects" and parts[2] == collection:
        pid, cid = _owner_id(parts[1]), id_parser(parts[3])
        if pid and cid:
            return ChildName(pid, cid)
    raise _malformed(field, pattern)


def parse_story(value: str, field: str) -> ChildName:
    return _parse_child(value, field, "stories", _owner_id)


def parse_sheet(value: str, field: str) -> ChildName:
    return _parse_child(value, field, "sheets", _server_id)


def parse_image(value: str, field: str) -> ChildName:
    return _parse_child(value, field, "images", _server_id)


def parse_actor(value: str, field: str) -> ChildName:
    return _parse_child(value, field, "actors", _server_id)


def parse_operation(value: str, field: str) -> ChildName:
    return _parse_child(value, field, "operations", _server_id)


def parse_operations(value: str, field: str) -> str:
    """The project of an operations collection, `projects/{project}/operations` (ListOperations)."""
    parts = value.split("/")
    if len(parts) == 3 and parts[0] == "projects" and parts[2] == "operations":
        pid = _owner_id(parts[1])
        if pid:
            return pid
    raise _malformed(field, "projects/{project}/operations")


def parse_variant(value: str, field: str) -> VariantName:
    parts = value.split("/")
    if len(parts) == 6 and parts[0] == "projects" and parts[2] == "actors" and parts[4] == "variants":
        pid, aid, vid = _owner_id(parts[1]), _server_id(parts[3]), _server_id(parts[5])
        if pid and aid and vid:
            return VariantName(pid, aid, vid)
    raise _malformed(field, "projects/{project}/actors/{actor}/variants/{variant}")
