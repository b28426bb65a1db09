"""What the command line hands over besides plain values: files (JSON or text) and
`KEY=VALUE` pairs, each read before any request so that a bad one is a usage error (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mailer_cli.errors import UsageError


def read_text(path: Path) -> str:
    """A UTF-8 text file's content."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read {str(path)!r}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise UsageError(f"{str(path)!r} is not UTF-8 text: {error.reason}") from error


def read_json(path: Path) -> Any:
    """A JSON file's content, whatever its shape."""
    try:
        return json.loads(read_text(path))
    except ValueError as error:
        raise UsageError(f"{str(path)!r} is not JSON: {error}") from error


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON file holding one object."""
    content = read_json(path)
    if not isinstance(content, dict):
        raise UsageError(f"{str(path)!r} must hold a JSON object ({{...}})")
    return content


def parse_pairs(pairs: list[str], option: str) -> dict[str, str]:
    """`KEY=VALUE` options as a map (the value may hold `=`; a later key wins)."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sign, value = pair.partition("=")
        if not sign or not key:
            raise UsageError(f"{option} takes KEY=VALUE, not {pair!r}")
        parsed[key] = value
    return parsed
