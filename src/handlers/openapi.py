"""The API's OpenAPI document, as `/swagger?format=json` serves it: `python -m handlers.openapi`
prints it; `--write` writes it to the repository's `openapi.json`, which is committed so that
a change to the API shows in review (tests/unit/test_openapi.py fails while they differ).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from core.settings import ConfigurationError, check_settings, get_settings

# src/handlers/openapi.py -> the repository's root.
COMMITTED = Path(__file__).resolve().parents[2] / "openapi.json"
REGENERATE = "python -m handlers.openapi --write"


def document() -> str:
    """The OpenAPI document, as JSON text ending in a newline."""
    _settle_settings()
    from handlers.api import app  # imported late: its import checks the settings
    from handlers.documentation import openapi_json

    return json.dumps(json.loads(openapi_json(app)), indent=2) + "\n"


def _settle_settings() -> None:
    """The document does not depend on where the tables are: on a machine without a
    function's environment, fill in placeholders for what the handler checks at import."""
    try:
        check_settings()
    except ConfigurationError as error:
        for name in error.missing:
            os.environ.setdefault(name, "unused-by-the-document")
        get_settings.cache_clear()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m handlers.openapi", description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write it to {COMMITTED.name}")
    arguments = parser.parse_args(argv)
    if arguments.write:
        COMMITTED.write_text(document(), encoding="utf-8")
    else:
        print(document(), end="")


if __name__ == "__main__":
    main()
