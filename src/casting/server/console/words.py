"""Domain errors in plain words for the person at the console, with the HTTP status to send.

The gRPC servicer maps the same errors to status codes for programs (server/errors.py); here
the reader is an artist or a writer, so every message says what happened and what to do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from casting.domain.errors import (
    BudgetExceeded,
    Conflict,
    DomainError,
    FieldViolation,
    GenerationBlocked,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    UpstreamBusy,
    UpstreamUnavailable,
)
from casting.server.console.forms import TRAIT_LABELS

# Request fields as the forms label them.
_LABELS = TRAIT_LABELS | {
    "display_name": "Name",
    "description": "Description",
    "story_style": "Story style",
    "image_style": "Image style",
    "trait_changes": "Changes",
    "story": "Story",
    "project": "Project",
    "filter": "Name filter",
    "page_token": "Page",
    "mime_type": "The file",
    "image_content": "The file",
}

_RESOURCES = {"variant": "look", "image": "picture"}

_PRECONDITIONS = {
    "DEFAULT_VARIANT": "The default look cannot be deleted. Make another look the default first.",
    "STORY_VARIANT_CANNOT_BE_DEFAULT": "A look made for one story cannot be the actor's default.",
    "PARENT_IN_OTHER_STORY": "That look belongs to another story: branch it within its own story.",
    "VARIANT_IN_OTHER_STORY": "That look belongs to another story and cannot be cast in this one.",
    "SHEET_ALREADY_SAVED": "This preview was already saved as an actor.",
}


@dataclass(frozen=True, slots=True)
class Said:
    """What the console tells the person, and the status of the page that tells it."""

    message: str
    status: int


def plain_words(error: DomainError) -> Said:
    match error:
        case GenerationBlocked():
            return Said(
                "The image model refused to draw this. Describe the character differently and try again.",
                422,
            )
        case UpstreamBusy(retry_after=retry_after):
            return Said(f"The image model is busy. Try again in {math.ceil(retry_after)} s.", 429)
        case BudgetExceeded(cap_micros=cap, spent_micros=spent):
            return Said(
                f"This project's model budget for the month is used up: ${spent / 1e6:.2f} of"
                f" ${cap / 1e6:.2f}. Ask whoever runs Casting to raise it.",
                429,
            )
        case UpstreamUnavailable():
            return Said("The image model could not draw a usable sheet just now. Try again shortly.", 503)
        case NotFound(resource_type="sheet"):
            return Said("That preview was not found. An unsaved preview is forgotten after a day.", 404)
        case NotFound(resource_type=kind):
            return Said(f"That {_RESOURCES.get(kind, kind)} was not found. It may have been deleted.", 404)
        case InvalidInput(violations=violations):
            return Said(" ".join(_violation(v) for v in violations), 400)
        case PreconditionFailed(reason=reason):
            return Said(_PRECONDITIONS.get(reason, error.message), 409)
        case Conflict():
            return Said("Someone changed this actor at the same moment. Please try again.", 409)
    return Said(error.message, 400)


def _violation(violation: FieldViolation) -> str:
    name = violation.field.rsplit(".", 1)[-1]
    if name == "image_content" and violation.description.startswith("the "):
        return f"The file is not an image we can use: {violation.description}."
    label = _LABELS.get(name, name.replace("_", " ").capitalize())
    joint = " " if violation.description.startswith(("is ", "must ")) else ": "
    return f"{label}{joint}{violation.description}."
