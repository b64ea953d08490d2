"""What every page handler does with a request: read its project and its form, move on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NoReturn
from urllib.parse import urlencode

from aiohttp import web

from casting.domain.errors import InvalidInput
from casting.server.console.forms import project_id

# Methods that change nothing: no CSRF token, no Origin needed.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Refused(Exception):
    """A request the console will not serve, with the page's status and plain words."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def project_of(request: web.Request) -> str:
    return project_id(request.match_info["project"])


async def posted(request: web.Request) -> dict[str, str]:
    """The posted form's text fields (files are read by the one form that takes them)."""
    form = await request.post()
    return {name: value for name, value in form.items() if isinstance(value, str)}


def whole_number(query: Mapping[str, str], field: str, default: int) -> int:
    text = query.get(field, "")
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise InvalidInput.field(field, "must be a whole number") from None


def with_query(path: str, **query: str | None) -> str:
    """The path with the query's non-empty values."""
    shown = {name: value for name, value in query.items() if value}
    return f"{path}?{urlencode(shown)}" if shown else path


def go_to(path: str, **query: str | None) -> NoReturn:
    """After a change, the page that shows it (303: a reload does not post again)."""
    raise web.HTTPSeeOther(with_query(path, **query))
