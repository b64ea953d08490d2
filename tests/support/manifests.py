"""The Kubernetes manifests under deploy/kubernetes, read as the cluster would get them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from casting.server.settings import Settings

MANIFESTS = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"


@dataclass(frozen=True, slots=True)
class Manifests:
    documents: list[tuple[Path, dict[str, Any]]]

    def one(self, kind: str, name: str) -> dict[str, Any]:
        [found] = [doc for _, doc in self.documents if (doc["kind"], doc["metadata"]["name"]) == (kind, name)]
        return found

    def settings(self) -> dict[str, str]:
        """The ConfigMap's settings."""
        data: dict[str, str] = self.one("ConfigMap", "casting")["data"]
        return data

    def setting(self, env_name: str) -> str:
        """A setting as the service sees it: the ConfigMap's value, else the service's default."""
        if env_name in self.settings():
            return self.settings()[env_name]
        return str(Settings.model_fields[setting_field(env_name)].default)


def manifests() -> Manifests:
    return Manifests(
        [
            (path, document)
            for path in sorted(MANIFESTS.rglob("*.yaml"))
            for document in yaml.safe_load_all(path.read_text())
            if document
        ]
    )


def container(workload: dict[str, Any]) -> dict[str, Any]:
    """The one container of a Deployment or Job."""
    [only] = workload["spec"]["template"]["spec"]["containers"]
    return only


def setting_names() -> dict[str, str]:
    """Every environment variable Settings reads, to the field it sets."""
    prefix = Settings.model_config.get("env_prefix", "")
    names = {}
    for field, info in Settings.model_fields.items():
        aliases = getattr(info.validation_alias, "choices", None)
        for name in aliases or [f"{prefix}{field}".upper()]:
            names[str(name)] = field
    return names


def setting_field(env_name: str) -> str:
    return setting_names()[env_name]
