"""A workload of deploy/kubernetes as a process: the image's command line with the container's
command and args, its environment from its ConfigMaps and Secrets, and its Secret volumes laid
out under a directory that stands for the container's root, the way the kubelet lays them out."""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tests.support.image import image
from tests.support.manifests import Manifests, container

Secrets = dict[str, dict[str, bytes]]  # Secret name -> key -> content


class SecretVolume:
    """A mounted Secret or ConfigMap: each key a symlink through `..data` to the current
    version's directory, which an update replaces with one rename, so a reader sees the old files
    or the new ones."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def publish(self, files: dict[str, bytes]) -> None:
        version = self.directory / f"..{uuid.uuid4().hex}"
        version.mkdir(parents=True)
        for name, content in files.items():
            (version / name).write_bytes(content)
        swap = self.directory / "..data_tmp"
        swap.symlink_to(version.name)
        os.replace(swap, self.directory / "..data")
        for name in files:
            link = self.directory / name
            if not link.is_symlink():
                link.symlink_to(f"..data/{name}")


@dataclass
class Pod:
    argv: list[str]
    env: dict[str, str]
    volumes: dict[str, SecretVolume]  # the Secrets', by name
    root: Path

    def start(self, output: IO[bytes], **overrides: str) -> subprocess.Popen[bytes]:
        """The container's process, with `overrides` over its environment (what only this
        machine needs: free ports, local stand-ins for the cloud's endpoints)."""
        built = image()
        workdir = self.root / built.workdir.lstrip("/")
        workdir.mkdir(parents=True, exist_ok=True)
        return built.start(self.argv, self.env | overrides, cwd=workdir, output=output)


def pod(found: Manifests, workload: dict[str, Any], secrets: Secrets, root: Path) -> Pod:
    spec = workload["spec"]["template"]["spec"]
    only = container(workload)
    volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
    mounted: dict[str, SecretVolume] = {}
    local_paths = {}
    for mount in only.get("volumeMounts", []):
        local = root / mount["mountPath"].lstrip("/")
        local_paths[mount["mountPath"]] = local
        volume = volumes[mount["name"]]
        if "secret" in volume:
            mounted[volume["secret"]["secretName"]] = SecretVolume(local)
            mounted[volume["secret"]["secretName"]].publish(secrets[volume["secret"]["secretName"]])
        elif "configMap" in volume:
            data = found.one("ConfigMap", volume["configMap"]["name"])["data"]
            SecretVolume(local).publish({name: text.encode() for name, text in data.items()})
        else:
            local.mkdir(parents=True, exist_ok=True)

    def localized(value: str) -> str:
        for path, local in local_paths.items():
            if value.startswith(f"{path}/"):
                return str(local / value.removeprefix(f"{path}/"))
        return value

    env = {}
    for source in only.get("envFrom", []):
        env |= found.one("ConfigMap", source["configMapRef"]["name"])["data"]
    for variable in only.get("env", []):
        if "value" in variable:
            env[variable["name"]] = variable["value"]
            continue
        reference = variable["valueFrom"]["secretKeyRef"]
        env[variable["name"]] = secrets[reference["name"]][reference["key"]].decode()
    argv = image().argv(only.get("command"), only.get("args"))
    return Pod(argv, {name: localized(value) for name, value in env.items()}, mounted, root)
