"""buf on the contract: lint (STANDARD, less the two rules buf.yaml explains), no breaking change
since the previous commit, and buf.gen.yaml generating what tools/gen_proto.py committed."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.contract.tools import ROOT, buf, run, shown, unavailable

PROTO = ROOT / "proto"
CASTING_PROTO = Path("casting/v1/casting.proto")


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def previous_commit() -> str:
    """The commit before HEAD (its first parent: main's previous commit), the contract as it was."""
    try:
        git("rev-parse", "--is-inside-work-tree")
    except (OSError, subprocess.CalledProcessError):
        unavailable("not a git checkout: there is no previous contract to compare with")
    if git("rev-list", "--count", "HEAD") == "1":
        if git("rev-parse", "--is-shallow-repository") == "true":
            unavailable("a shallow clone: the commit before HEAD was not fetched")
        pytest.skip("HEAD is the first commit: there is no previous contract to compare with")
    return git("rev-parse", "HEAD~1")


def copy_of_contract(tmp_path: Path) -> Path:
    """buf.yaml, proto/ and the googleapis protos it imports in a scratch workspace, to be broken
    on purpose."""
    shutil.copy(ROOT / "buf.yaml", tmp_path)
    shutil.copytree(PROTO, tmp_path / "proto")
    shutil.copytree(ROOT / "third_party", tmp_path / "third_party")
    return tmp_path / "proto" / CASTING_PROTO


def rules_reported(output: str) -> set[str]:
    return {json.loads(line)["type"] for line in output.splitlines() if line.strip()}


def test_lint_is_clean() -> None:
    result = run([buf(), "lint"])
    assert result.returncode == 0, shown(result)


def test_lint_reports_a_violation_of_the_standard_rules(tmp_path: Path) -> None:
    proto = copy_of_contract(tmp_path)
    proto.write_text(proto.read_text().replace("string mood = 6;", "string Mood = 6;", 1))
    result = run([buf(), "lint", "--error-format=json"], cwd=tmp_path)
    assert result.returncode != 0, shown(result)
    assert rules_reported(result.stdout) == {"FIELD_LOWER_SNAKE_CASE"}, shown(result)


def test_no_breaking_change_since_the_previous_commit() -> None:
    commit = previous_commit()
    if git("ls-tree", commit, "--", str(Path("proto") / CASTING_PROTO)) == "":
        pytest.skip(f"the contract did not exist at {commit}")
    repository = git("rev-parse", "--path-format=absolute", "--git-common-dir")
    result = run([buf(), "breaking", "proto", "--against", f"{repository}#subdir=proto,ref={commit}"])
    assert result.returncode == 0, f"compared with {commit}:\n{shown(result)}"


def test_breaking_reports_a_renamed_field(tmp_path: Path) -> None:
    proto = copy_of_contract(tmp_path)
    proto.write_text(proto.read_text().replace("string outfit = 5;", "string clothes = 5;"))
    result = run([buf(), "breaking", "proto", "--against", str(PROTO), "--error-format=json"], cwd=tmp_path)
    assert result.returncode != 0, shown(result)
    assert "FIELD_SAME_NAME" in rules_reported(result.stdout), shown(result)


def test_generate_makes_the_committed_typed_stubs(tmp_path: Path) -> None:
    result = run([buf(), "generate", "--template", "buf.gen.yaml", "--output", str(tmp_path)])
    assert result.returncode == 0, shown(result)
    made = tmp_path / "gen" / "python" / "casting" / "v1"
    assert (made / "casting_pb2.py").is_file()
    committed = ROOT / "src" / "casting" / "v1"
    for stub in ("casting_pb2.pyi", "casting_pb2_grpc.pyi"):
        assert (made / stub).read_text() == (committed / stub).read_text(), stub
