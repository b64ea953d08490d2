"""The README's grpcurl session, run with real grpcurl (1.8.6) against a live server.

The session is the README's code blocks tagged `console grpcurl`, in order: each `$ grpcurl …`
command and the answer shown under it. Each command runs as written, with the README's
`localhost:50051` made the live server's address and the README's ids swapped for the live ones.
Each answer must hold what the README shows, read as a reader would read it:

- a JSON answer has the fields shown, in the order shown, with the values shown; a line `…`
  stands for fields or list items left out there (an object or list without one shows all);
- a text answer (list, describe, an error on stderr) has the lines shown, in order, spaces
  aside; a line `…` stands for lines left out there;
- `…` inside a value stands for any text;
- an id (a UUID) or a sha256 stands for the live value it first lines up with, and must be that
  same value wherever it shows again; `1a2b3c4d-…` is any id, or that id's live one once bound.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

import pytest

from casting.server.main import RunningServer
from tests.contract.readme import README_ADDRESS, blocks, command_complete, json_documents, one_line
from tests.contract.tools import grpcurl, run, shown

CUT = "…"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SHA256 = r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])"
TOKEN = re.compile(rf"({UUID}|{SHA256})")
CUT_ID = re.compile(r"[0-9a-f]{8}-$")
TRAILING_COMMA = re.compile(r",(\s*[}\]])")
SPACES = re.compile(r"\s+")
Bound = dict[str, str]  # the README's ids and digests -> the live session's


@dataclass
class Step:
    command: str
    shown_lines: list[str] = field(default_factory=list)

    @property
    def shown(self) -> str:
        return "\n".join(self.shown_lines).strip()


def readme_steps() -> list[Step]:
    found = blocks("console grpcurl")
    assert found, "the README needs its grpcurl session in ```console grpcurl blocks"
    steps: list[Step] = []
    for block in found:
        pending = ""
        for line in block.splitlines():
            if pending or line.startswith("$ "):
                pending += line.removeprefix("$ ") + "\n"
                if command_complete(pending):
                    steps.append(Step(one_line(pending)))
                    pending = ""
            else:
                assert steps, f"an answer before any command: {line!r}"
                steps[-1].shown_lines.append(line)
        assert not pending, f"unfinished command at the end of a block: {pending}"
    return steps


def shown_documents(text: str) -> list[Any]:
    """The README's shortened JSON answer as JSON: a line `…` becomes the item "…" in a list, and
    in an object a field named "…" and a number (several may be there)."""
    kept: list[str] = []
    open_brackets: list[str] = []
    for number, line in enumerate(text.splitlines()):
        if line.strip() in (CUT, CUT + ","):
            kept.append(f'"{CUT}",' if open_brackets[-1] == "[" else f'"{CUT}{number}": null,')
            continue
        kept.append(line)
        _track_brackets(line, open_brackets)
    return list(json_documents(TRAILING_COMMA.sub(r"\1", "\n".join(kept))))


def _track_brackets(line: str, open_brackets: list[str]) -> None:
    """Pushes and pops the brackets `line` opens and closes outside its strings."""
    outside = re.sub(r'"(?:[^"\\]|\\.)*"', '""', line)
    for char in outside:
        if char in "[{":
            open_brackets.append(char)
        elif char in "]}":
            open_brackets.pop()


def matches(shown: Any, live: Any, bound: Bound) -> Bound | None:
    """`bound` with the ids `shown` binds, when `live` holds what `shown` shows; else None."""
    if isinstance(shown, dict):
        names = [CUT if name.startswith(CUT) else name for name in shown]
        if not isinstance(live, dict) or matches_items(names, list(live), bound) is None:
            return None
        found: Bound | None = bound
        for name, value in shown.items():
            if not name.startswith(CUT):
                found = None if found is None else matches(value, live[name], found)
        return found
    if isinstance(shown, list):
        return matches_items(shown, live, bound) if isinstance(live, list) else None
    if isinstance(shown, str):
        return matches_text(shown, live, bound) if isinstance(live, str) else None
    return bound if type(shown) is type(live) and shown == live else None


def matches_items(shown: list[Any], live: list[Any], bound: Bound) -> Bound | None:
    """`live`'s items are `shown`'s, in order, where an item `…` stands for any run of items."""
    if not shown:
        return bound if not live else None
    first, rest = shown[0], shown[1:]
    if first == CUT:
        skipped = (matches_items(rest, live[skip:], bound) for skip in range(len(live) + 1))
        return next((found for found in skipped if found is not None), None)
    found = matches(first, live[0], bound) if live else None
    return None if found is None else matches_items(rest, live[1:], found)


def matches_text(shown: str, live: str, bound: Bound) -> Bound | None:
    pattern, groups = _pattern(shown, bound)
    match = re.fullmatch(pattern, live, re.DOTALL)
    if match is None:
        return None
    found = dict(bound)
    for group, token in groups.items():
        value = match[group]
        if value in found.values():  # two of the README's ids for one live id
            return None
        found[token] = value
    return found


def _pattern(shown: str, bound: Bound) -> tuple[str, dict[str, str]]:
    """A regular expression for `shown`, and its groups that bind new ids."""
    groups: dict[str, str] = {}
    parts = shown.split(CUT)
    pattern = []
    for index, part in enumerate(parts):
        cut_id = CUT_ID.search(part) if index < len(parts) - 1 else None
        if cut_id:
            part = part[: cut_id.start()]
        for piece_index, piece in enumerate(TOKEN.split(part)):
            if piece_index % 2 == 0:
                pattern.append(re.escape(piece))
            elif piece in bound:
                pattern.append(re.escape(bound[piece]))
            elif piece in groups.values():
                pattern.append(f"(?P={next(g for g, t in groups.items() if t == piece)})")
            else:
                group = f"token{len(groups)}"
                groups[group] = piece
                pattern.append(f"(?P<{group}>{UUID if '-' in piece else SHA256})")
        if cut_id:
            whole = next((bound[t] for t in bound if t.startswith(cut_id[0])), None)
            pattern.append(re.escape(whole[:9]) if whole else "[0-9a-f]{8}-")
    return ".*".join(pattern), groups


def lines(text: str) -> list[str]:
    """Text lines with their spacing evened out (grpcurl indents error details with a tab)."""
    return [SPACES.sub(" ", line).strip() for line in text.strip().splitlines()]


@dataclass
class Session:
    """The README's session against the live server: the ids bound so far and each answer."""

    port: int
    bound: Bound = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    answers: dict[str, list[Any]] = field(default_factory=dict)

    def run(self, step: Step) -> None:
        words = shlex.split(self.live_ids(step.command))
        assert words[0] == "grpcurl", f"not a grpcurl command: {step.command}"
        address = words.index(README_ADDRESS)
        call = " ".join(words[address + 1 :])
        words[address] = f"127.0.0.1:{self.port}"
        result = run([grpcurl(), *words[1:]])
        failing = step.shown.startswith("ERROR:")
        assert (result.returncode != 0) == failing, shown(result)
        self.calls.append(call)
        if step.shown.startswith("{"):
            self.answers[call] = list(json_documents(result.stdout))
            bound = matches_items(shown_documents(step.shown), self.answers[call], self.bound)
        else:
            shown_lines = [CUT if line == CUT else line for line in lines(step.shown)]
            bound = matches_items(shown_lines, lines(result.stderr if failing else result.stdout), self.bound)
        assert bound is not None, f"the README shows\n{step.shown}\nbut {shown(result)}"
        self.bound = bound

    def live_ids(self, command: str) -> str:
        def live(token: re.Match[str]) -> str:
            assert token[0] in self.bound, f"the README's command uses {token[0]}, which no answer showed"
            return self.bound[token[0]]

        return TOKEN.sub(live, command)

    def answer(self, method: str) -> Any:
        (only,) = self.answers[f"casting.v1.CastingService/{method}"]
        return only


def run_session(port: int) -> Session:
    session = Session(port)
    for step in readme_steps():
        session.run(step)
    return session


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_readme_grpcurl_session(server: RunningServer) -> None:
    session = await asyncio.to_thread(run_session, server.port)
    service = "casting.v1.CastingService"
    # The session the README must keep, in this order; it may show more calls between them.
    required = [
        "list", f"describe {service}",
        *(f"{service}/{method}" for method in (
            "ListStyles", "GenerateSheet", "SaveActor", "BranchVariant", "CastVariant",
            "ListStoryCast", "GetActor", "ReadImage", "DeleteVariant",
        )),
        "grpc.health.v1.Health/Check",
    ]  # fmt: skip
    assert [call for call in session.calls if call in required] == required

    saved = session.answer("SaveActor")
    assert saved["approved"] is True
    assert saved["variants"][0]["display_name"] == "Default"
    look = session.answer("BranchVariant")
    image = look["reference_image"]
    chunks = session.answers[f"{service}/ReadImage"]
    data = b"".join(base64.b64decode(chunk["data"]) for chunk in chunks)
    assert hashlib.sha256(data).hexdigest() == chunks[0]["sha256"] == image["sha256"]
    assert (len(data), chunks[0]["mime_type"]) == (int(image["size_bytes"]), image["mime_type"])


def test_an_answer_that_differs_from_the_readme_fails() -> None:
    """The reading is no rubber stamp: another value, a field missing or not shown without a `…`,
    an id bound twice all fail."""
    readme_id, live_id = "1a2b3c4d-0000-4000-8000-000000000001", "9f8e7d6c-0000-4000-8000-00000000000f"
    shown = shown_documents(f'{{\n  "name": "projects/p/actors/{readme_id}",\n  …\n}}')
    live = f"projects/p/actors/{live_id}"
    bound = matches_items(shown, [{"name": live, "approved": True}], {})
    assert bound == {readme_id: live_id}
    assert matches_items(shown, [{"display_name": "Mina"}], {}) is None
    assert matches_items(shown, [{"name": f"projects/q/actors/{live_id}"}], {}) is None
    whole = shown_documents(f'{{\n  "name": "projects/p/actors/{readme_id}"\n}}')
    assert matches_items(whole, [{"name": live, "approved": True}], {}) is None
    assert matches_text("1a2b3c4d-…/variants/…", f"{live_id}/variants/x", bound)
    assert matches_text("1a2b3c4d-…", "00000000-0000-4000-8000-00000000000f", bound) is None
    assert matches_text("ffffffff-0000-4000-8000-000000000002", live_id, bound) is None
