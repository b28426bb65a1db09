"""The README's webhook verification snippet, run as written: the tests that check a call's
signature use the very code a receiver copies from the "Webhooks" section, so the two can
never drift apart."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

README = Path(__file__).resolve().parents[2] / "README.md"

Verify = Callable[[str, Mapping[str, str], bytes], bool]


def readme_snippet() -> str:
    """The Python block of the README's "Webhooks" section."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## Webhooks\n") :]
    section = section[: section.index("\n## ", 1)]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, "the README's Webhooks section has no Python snippet"
    return found.group(1)


def _load() -> Verify:
    namespace: dict[str, Any] = {}
    exec(compile(readme_snippet(), str(README), "exec"), namespace)  # noqa: S102 (our README)
    return cast(Verify, namespace["verify"])


verify: Verify = _load()
