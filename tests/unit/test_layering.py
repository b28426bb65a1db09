"""The layers the design promises, checked from the code (issue 18, the seam): the ports name
domain types only, so `core.ports` loads no AWS SDK; core is handed its collaborators and never
reaches for the composition root (`core.runtime`)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

_PROBE = "import json, sys, core.ports; print(json.dumps(sorted(sys.modules)))"


def test_the_ports_load_no_aws_adapter() -> None:
    done = subprocess.run(  # noqa: S603  # this interpreter, our own module
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        check=True,
        cwd=SRC,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        timeout=60,
    )
    loaded = json.loads(done.stdout)

    adapters = [
        name
        for name in loaded
        if name.split(".")[0] in ("boto3", "botocore") or name == "core.storage"
    ]
    assert adapters == []


def _imports(path: Path) -> set[str]:
    """Every module `path` imports (at the top, in a function or under TYPE_CHECKING)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_core_never_imports_the_composition_root() -> None:
    reaching = sorted(
        str(path.relative_to(SRC))
        for path in (SRC / "core").rglob("*.py")
        if path.name != "runtime.py" and "core.runtime" in _imports(path)
    )

    assert reaching == []
