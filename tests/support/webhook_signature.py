"""The docs' webhook verification snippet, run as written: the tests that check a call's
signature use the very code a receiver copies from the "Webhooks" section of docs/events.md,
so the two can never drift apart."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

EVENTS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "events.md"

Verify = Callable[[str, Mapping[str, str], bytes], bool]


def documented_snippet() -> str:
    """The Python block of the "Webhooks" section of docs/events.md."""
    text = EVENTS_PAGE.read_text(encoding="utf-8")
    section = text[text.index("\n## Webhooks\n") :]
    following = section.find("\n## ", 1)
    section = section if following < 0 else section[:following]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, "the Webhooks section of docs/events.md has no Python snippet"
    return found.group(1)


def _load() -> Verify:
    namespace: dict[str, Any] = {}
    exec(compile(documented_snippet(), str(EVENTS_PAGE), "exec"), namespace)  # noqa: S102 (our docs)
    return cast(Verify, namespace["verify"])


verify: Verify = _load()
