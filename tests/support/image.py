"""The container image as the Dockerfile defines it, run from this checkout's venv.

The image's final stage puts the service's venv first on PATH; here that venv is the one the
tests run in, so the image's command line starts as a real process without a container runtime
(none of which can pull the base image on this machine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from dockerfile_parse import DockerfileParser

DOCKERFILE = Path(__file__).resolve().parents[2] / "Dockerfile"
VENV_BIN = str(Path(sys.executable).parent)


@dataclass(frozen=True, slots=True)
class Image:
    entrypoint: list[str]
    cmd: list[str]
    env: dict[str, str]  # the final stage's ENV
    user: str
    venv_bin: str  # the image's venv, first on its PATH

    def argv(self, command: list[str] | None = None, args: list[str] | None = None) -> list[str]:
        """The process a container of this image runs; Kubernetes' `command` replaces ENTRYPOINT
        and its `args` replace CMD."""
        return [*(self.entrypoint if command is None else command), *(self.cmd if args is None else args)]

    def start(
        self, argv: list[str], env: dict[str, str], cwd: Path, output: IO[bytes]
    ) -> subprocess.Popen[bytes]:
        """`argv` as a process on the image's ENV with `env` over it (a container's own
        settings), its venv standing for this one, in `cwd` (the image's working directory)."""
        # Only what the image and the caller set: no CASTING_* or cloud keys leak in from here.
        base = {name: value for name, value in os.environ.items() if name in ("HOME", "LANG", "TMPDIR")}
        image_env = self.env | {"PATH": self.env["PATH"].replace(self.venv_bin, VENV_BIN, 1) + os.defpath}
        return subprocess.Popen(
            argv, env=base | image_env | env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT
        )


def image() -> Image:
    parsed = DockerfileParser(path=str(DOCKERFILE), env_replace=True)
    final = _final_stage(parsed.structure)
    [entrypoint] = [json.loads(line["value"]) for line in final if line["instruction"] == "ENTRYPOINT"]
    [user] = [line["value"] for line in final if line["instruction"] == "USER"]
    env = dict(parsed.envs)
    return Image(entrypoint, json.loads(parsed.cmd), env, user, env["PATH"].split(":", 1)[0])


def _final_stage(structure: list[dict[str, str]]) -> list[dict[str, str]]:
    starts = [index for index, line in enumerate(structure) if line["instruction"] == "FROM"]
    return structure[starts[-1] :]
