"""Regenerates the committed Python code of the contract from proto/.

Run after editing a .proto: `.venv/bin/python tools/gen_proto.py`. A test regenerates into a
temporary directory and fails when the committed files differ.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
# googleapis protos the contract imports (google.longrunning, google.rpc), found here but not
# generated: googleapis-common-protos ships their Python modules.
GOOGLEAPIS = ROOT / "third_party" / "googleapis"


def generate(out_dir: Path) -> list[Path]:
    """Writes the generated modules and stubs of every proto under proto/ into out_dir."""
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    # protoc finds the mypy-protobuf plugins on PATH, next to this interpreter.
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    well_known = str(Path(protoc.__file__).parent / "_proto")
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{GOOGLEAPIS}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed")
    return sorted(p for p in out_dir.rglob("*") if p.suffix in {".py", ".pyi"})


if __name__ == "__main__":
    for path in generate(ROOT / "src"):
        print(path.relative_to(ROOT))
