"""The container image as the Dockerfile defines it, run from this checkout.

The image holds the source tree (the build stage's WORKDIR) and a venv first on PATH; here they
are this checkout and the venv the tests run in, so the image's command lines start as real
processes without a container runtime (none of which can pull the base image on this machine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from dockerfile_parse import DockerfileParser

CHECKOUT = Path(__file__).resolve().parents[2]
DOCKERFILE = CHECKOUT / "Dockerfile"
VENV_BIN = str(Path(sys.executable).parent)


@dataclass(frozen=True, slots=True)
class Image:
    entrypoint: list[str]
    cmd: list[str]
    env: dict[str, str]  # the final stage's ENV
    user: str
    venv_bin: str  # the image's venv, first on its PATH
    source: str  # where the image keeps the source tree (alembic.ini, migrations/, src/)
    workdir: str  # where its processes start

    def argv(self, command: list[str] | None = None, args: list[str] | None = None) -> list[str]:
        """The process a container of this image runs. Kubernetes' `args` replace CMD; its
        `command` replaces ENTRYPOINT, and CMD with it unless `args` are given."""
        if command is not None:
            return [*command, *(args or [])]
        return [*self.entrypoint, *(self.cmd if args is None else args)]

    def start(
        self, argv: list[str], env: dict[str, str], cwd: Path, output: IO[bytes]
    ) -> subprocess.Popen[bytes]:
        """`argv` as a process on the image's ENV with `env` over it (a container's own
        settings), its venv and source tree standing for this one's, in `cwd` (the image's
        working directory)."""
        # Only what the image and the caller set: no CASTING_* or cloud keys leak in from here.
        base = {name: value for name, value in os.environ.items() if name in ("HOME", "LANG", "TMPDIR")}
        image_env = self.env | {"PATH": self.env["PATH"].replace(self.venv_bin, VENV_BIN, 1) + os.defpath}
        here = [arg.replace(f"{self.source}/", f"{CHECKOUT}/", 1) for arg in argv]
        return subprocess.Popen(
            here, env=base | image_env | env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT
        )


def image() -> Image:
    parsed = DockerfileParser(path=str(DOCKERFILE), env_replace=True)
    build, final = _stages(parsed.structure)
    [entrypoint] = [json.loads(line["value"]) for line in final if line["instruction"] == "ENTRYPOINT"]
    [user] = [line["value"] for line in final if line["instruction"] == "USER"]
    [source] = [line["value"] for line in build if line["instruction"] == "WORKDIR"]
    [workdir] = [line["value"] for line in final if line["instruction"] == "WORKDIR"]
    env = dict(parsed.envs)
    venv_bin = env["PATH"].split(":", 1)[0]
    # Standing this checkout in for the image is only right when they sit where the build put them.
    copies = {line["value"] for line in final if line["instruction"] == "COPY"}
    assert {f"--from=build {path} {path}" for path in (source, str(Path(venv_bin).parent))} <= copies, copies
    return Image(entrypoint, json.loads(parsed.cmd), env, user, venv_bin, source, workdir)


def _stages(structure: list[dict[str, str]]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The build stage and the final one."""
    [build, final] = [index for index, line in enumerate(structure) if line["instruction"] == "FROM"]
    return structure[build:final], structure[final:]
