"""The layers the design promises, checked from the code (issue 18, the seam): the ports name
domain types only, so `core.ports` loads no AWS SDK."""

from __future__ import annotations

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
