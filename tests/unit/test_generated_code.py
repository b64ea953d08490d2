"""The committed generated code matches the proto: regenerating changes nothing."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from gen_proto import generate  # noqa: E402


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    fresh = {p.relative_to(tmp_path): p.read_text() for p in generate(tmp_path)}
    assert fresh, "protoc generated nothing"
    stale = [str(rel) for rel, text in fresh.items() if (ROOT / "src" / rel).read_text() != text]
    assert stale == [], f"run tools/gen_proto.py: stale {stale}"
