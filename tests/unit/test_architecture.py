"""The dependency rule: domain imports only the standard library; adapters import the domain
(never the server or gRPC); only the server knows gRPC and the container."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "casting"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def layer_files(layer: str) -> list[Path]:
    files = sorted((SRC / layer).rglob("*.py"))
    assert files, f"no files in {layer}"
    return files


@pytest.mark.parametrize("path", layer_files("domain"), ids=lambda p: str(p.relative_to(SRC)))
def test_domain_imports_only_the_standard_library(path: Path) -> None:
    outside = {
        m
        for m in imported_modules(path)
        if m.split(".")[0] not in sys.stdlib_module_names and not m.startswith("casting.domain")
    }
    assert outside == set()


@pytest.mark.parametrize("path", layer_files("adapters"), ids=lambda p: str(p.relative_to(SRC)))
def test_adapters_never_import_the_server_or_grpc(path: Path) -> None:
    forbidden = {
        m
        for m in imported_modules(path)
        if m.startswith(("casting.server", "casting.v1", "grpc", "dependency_injector"))
    }
    assert forbidden == set()


def test_the_rule_is_checked_on_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import sqlalchemy\nfrom casting.server import main\n")
    assert imported_modules(bad) == {"sqlalchemy", "casting.server"}
