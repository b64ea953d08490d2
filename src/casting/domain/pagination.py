"""Keyset pagination (AIP-158): page sizes, and opaque page tokens that name the last row seen.

A token is bound to the query it came from; reusing it with another filter is InvalidInput.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from casting.domain.errors import InvalidInput

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# Tokens this module makes are about 150 characters; anything much longer is not one of them.
MAX_PAGE_TOKEN_CHARS = 512


@dataclass(frozen=True, slots=True)
class Cursor:
    """The position after the last row of a page: rows sort by (create_time desc, id desc)."""

    create_time: datetime
    id: str


@dataclass(frozen=True, slots=True)
class PageRequest:
    size: int
    after: Cursor | None


def page_request(page_size: int, page_token: str, query: str) -> PageRequest:
    """Validates a page size and token for the query they page through."""
    if page_size < 0:
        raise InvalidInput.field("page_size", "must not be negative")
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    return PageRequest(size=size, after=decode_token(page_token, query) if page_token else None)


def split_page(
    rows: Sequence[T], page: PageRequest, query: str, cursor: Callable[[T], Cursor]
) -> tuple[list[T], str]:
    """The page's rows and the token of the next page ("" on the last), from the page.size + 1
    rows a repository returned."""
    shown = list(rows[: page.size])
    more = len(rows) > page.size
    return shown, encode_token(cursor(shown[-1]), query) if more else ""


def encode_token(cursor: Cursor, query: str) -> str:
    payload = {"t": cursor.create_time.isoformat(), "i": cursor.id, "q": _fingerprint(query)}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def decode_token(token: str, query: str) -> Cursor:
    """The cursor of a token; anything but a token this module made is InvalidInput (a token is
    not signed, so its cursor is checked to be a time and a server-made id before any query)."""
    try:
        if len(token) > MAX_PAGE_TOKEN_CHARS:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
        cursor = Cursor(datetime.fromisoformat(payload["t"]), str(uuid.UUID(payload["i"])))
        if cursor.id != payload["i"] or cursor.create_time.tzinfo is None:
            raise ValueError("not a cursor this module made")
        matches = payload["q"] == _fingerprint(query)
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError):
        raise InvalidInput.field("page_token", "is not a token this list returned") from None
    if not matches:
        raise InvalidInput.field("page_token", "was issued for a different parent or filter")
    return cursor


def _fingerprint(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()[:16]
