"""ListActors' filter: a small subset of AIP-160.

display_name = "Mina"        exact
display_name = "Mi*"         prefix
approved = true              or false
verified = false             actors with a look that failed verification (true: none did)
terms joined by AND
"""

from __future__ import annotations

import re

from casting.domain.errors import InvalidInput
from casting.domain.ports import ActorFilter
from casting.domain.values import MAX_NAME_CHARS, text_violation

MAX_FILTER_CHARS = 1024

_TERM = re.compile(r'\s*(\w+)\s*=\s*("(?:[^"\\]|\\.)*"|\w+)\s*')
_AND = re.compile(r"AND\b")


def parse_actor_filter(text: str) -> ActorFilter:
    if violations := text_violation("filter", text, MAX_FILTER_CHARS):
        raise InvalidInput(violations)
    terms: dict[str, str] = {}
    position = 0
    while text.strip():
        match = _TERM.match(text, position)
        if match is None or match.group(1) in terms:
            raise _bad()
        terms[match.group(1)] = match.group(2)
        position = match.end()
        if position == len(text):
            break
        joined = _AND.match(text, position)
        if joined is None:
            raise _bad()
        position = joined.end()
    return _to_filter(terms)


def _to_filter(terms: dict[str, str]) -> ActorFilter:
    unknown = set(terms) - {"display_name", "approved", "verified"}
    if unknown:
        raise InvalidInput.field(
            "filter", f"unknown field {sorted(unknown)[0]!r}; use display_name, approved or verified"
        )
    approved, verified = _flag(terms, "approved"), _flag(terms, "verified")
    name = terms.get("display_name")
    if name is None:
        return ActorFilter(approved=approved, verified=verified)
    if not (name.startswith('"') and name.endswith('"')):
        raise InvalidInput.field("filter", 'display_name takes a quoted string, e.g. display_name="Mi*"')
    value = re.sub(r"\\(.)", r"\1", name[1:-1])
    if len(value) > MAX_NAME_CHARS + 1:
        raise InvalidInput.field("filter", f"display_name is at most {MAX_NAME_CHARS} characters")
    if value.endswith("*"):
        return ActorFilter(display_name_prefix=value[:-1], approved=approved, verified=verified)
    return ActorFilter(display_name=value, approved=approved, verified=verified)


def _flag(terms: dict[str, str], name: str) -> bool | None:
    if name not in terms:
        return None
    if terms[name] not in ("true", "false"):
        raise InvalidInput.field("filter", f"{name} must be true or false")
    return terms[name] == "true"


def _bad() -> InvalidInput:
    return InvalidInput.field(
        "filter", 'must be terms like display_name="Mi*" or approved=true joined by AND'
    )
