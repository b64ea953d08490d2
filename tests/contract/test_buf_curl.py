"""The README's `buf curl` session, run for real against a live server.

The commands come out of the README's code block tagged `sh buf-curl`, so the documentation and
this test cannot drift apart. The block is read as the shell would run it, for the forms it
uses: `buf curl … [| tee FILE]` commands, possibly spanning lines (backslashes, quoted JSON), and
`NAME=$(jq -r .path FILE)` assignments whose `$NAME` later commands use. The port of the
README's `localhost:50051` becomes the live server's.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

import pytest

from casting.server.main import RunningServer
from tests.contract.readme import README_ADDRESS, blocks, command_complete, json_documents, one_line
from tests.contract.tools import buf, run, shown

ASSIGNMENT = re.compile(r"^(?P<name>[A-Z_]+)=\$\(jq -r (?P<path>(?:\.\w+)+) (?P<file>\S+)\)$")


def readme_commands() -> list[str]:
    """The block's commands, each joined onto one logical line."""
    found = blocks("sh buf-curl")
    assert len(found) == 1, "the README needs exactly one ```sh buf-curl block"
    commands, pending = [], ""
    for line in found[0].splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line + "\n"
        if command_complete(pending):
            commands.append(one_line(pending))
            pending = ""
    assert not pending, f"unfinished command at the end of the block: {pending}"
    return commands


@dataclass
class Session:
    """What the shell would hold: the variables set, the files tee wrote, each RPC's answers."""

    port: int
    variables: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    answers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def run(self, command: str) -> None:
        assignment = ASSIGNMENT.match(command)
        if assignment:
            value: Any = json.loads(self.files[assignment["file"]])
            for key in assignment["path"].split(".")[1:]:
                value = value[key]
            self.variables[assignment["name"]] = value
            return
        words = [self.expand(word) for word in shlex.split(command)]
        tee = None
        if "|" in words:
            pipe = words.index("|")
            assert words[pipe + 1 : -1] == ["tee"], f"only `| tee FILE` is understood: {command}"
            words, tee = words[:pipe], words[pipe + 2]
        assert words[:2] == ["buf", "curl"], f"not a buf curl command: {command}"
        result = run([buf(), *words[1:]])
        assert result.returncode == 0, shown(result)
        if tee:
            self.files[tee] = result.stdout
        method = words[-1].rsplit("/", 1)[1]
        self.answers.setdefault(method, []).extend(json_documents(result.stdout))

    def expand(self, word: str) -> str:
        for name, value in self.variables.items():
            word = word.replace(f"${name}", value)
        assert "$" not in word, f"unset variable in {word!r}"
        return word.replace(README_ADDRESS, f"127.0.0.1:{self.port}")

    def answer(self, method: str) -> dict[str, Any]:
        (only,) = self.answers[method]
        return only


def run_session(port: int) -> Session:
    session = Session(port)
    for command in readme_commands():
        session.run(command)
    return session


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_readme_buf_curl_session(server: RunningServer) -> None:
    session = await asyncio.to_thread(run_session, server.port)
    assert list(session.answers) == [
        "ListStyles", "GenerateSheet", "SaveActor", "BranchVariant",
        "CastVariant", "ListStoryCast", "GetActor", "ReadImage",
    ]  # fmt: skip

    styles = session.answer("ListStyles")
    assert "romance" in [style["id"] for style in styles["storyStyles"]]
    assert "webtoon" in [style["id"] for style in styles["imageStyles"]]

    sheet = session.answer("GenerateSheet")
    assert sheet["name"].startswith("projects/studio-1/sheets/")
    assert sheet["generation"]["generator"] == "offline"

    saved = session.answer("SaveActor")
    assert saved["displayName"] == "Mina"
    (base,) = saved["variants"]
    assert (base["kind"], base["isDefault"], base["name"]) == ("KIND_BASE", True, saved["defaultVariant"])
    assert base["referenceImage"] == sheet["image"]

    look = session.answer("BranchVariant")
    assert (look["kind"], look["parentVariant"]) == ("KIND_DERIVED", base["name"])
    assert look["traitChanges"] == {"outfit": "red winter coat", "mood": "wistful"}
    assert look["generation"]["referenceImages"][0] == sheet["image"]["name"]

    story = "projects/studio-1/stories/spring-festival"
    assert session.answer("CastVariant")["castStories"] == [story]
    (member,) = session.answer("ListStoryCast")["cast"]
    assert (member["actor"], member["variant"]["name"]) == (saved["name"], look["name"])

    actor = session.answer("GetActor")
    assert [variant["kind"] for variant in actor["variants"]] == ["KIND_BASE", "KIND_DERIVED"]
    assert actor["variantCount"] == 2

    chunks = session.answers["ReadImage"]
    data = b"".join(base64.b64decode(chunk["data"]) for chunk in chunks)
    image = look["referenceImage"]
    assert hashlib.sha256(data).hexdigest() == chunks[0]["sha256"] == image["sha256"]
    assert (len(data), chunks[0]["mimeType"]) == (int(image["sizeBytes"]), "image/png")
