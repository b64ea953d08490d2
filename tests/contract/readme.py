"""Reading the README's sessions as the shell and the tools would: its tagged code blocks, its
commands (spanning lines with backslashes or quoted JSON) and the JSON documents a tool prints."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from typing import Any

from tests.contract.tools import ROOT

README = ROOT / "README.md"
# What the README's commands call; the tests swap in the live server's address.
README_ADDRESS = "localhost:50051"
_WHITESPACE = re.compile(r"\s*")


def blocks(tag: str) -> list[str]:
    """The bodies of the README's code blocks whose info string is `tag` (e.g. "sh buf-curl")."""
    fence = re.compile(rf"^```{re.escape(tag)}\n(.*?)^```$", re.MULTILINE | re.DOTALL)
    return fence.findall(README.read_text())


def command_complete(text: str) -> bool:
    """Whether the shell would run `text` as it is: no trailing backslash, no quote left open."""
    if text.endswith("\\\n"):
        return False
    try:
        shlex.split(text)
    except ValueError:
        return False
    return True


def one_line(command: str) -> str:
    return command.replace("\\\n", " ").strip()


def json_documents(text: str) -> Iterator[Any]:
    """The JSON documents of a tool's output, one per message (several for a stream)."""
    decoder, position = json.JSONDecoder(), _WHITESPACE.match(text).end()
    while position < len(text):
        document, end = decoder.raw_decode(text, position)
        yield document
        position = _WHITESPACE.match(text, end).end()
