"""DreamFactory `{placeholder}` substitution, rendered by a sandboxed Jinja2 environment.

DreamFactory replaces `{key}` only where `key` was given and leaves every other brace alone
(CSS rules, JSON snippets). We keep exactly that: the text is split at the given
placeholders, the literal pieces travel as data (so nothing in them is ever parsed as
template syntax), and Jinja2 joins pieces and values, HTML-escaping values in `body_html`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from jinja2 import Template
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

# Each part is either a literal chunk or the name of a placeholder value.
_TEMPLATE = (
    "{% for literal, key in parts %}"
    "{{ literal }}{% if key is not none %}{{ values[key] }}{% endif %}"
    "{% endfor %}"
)


@lru_cache(maxsize=2)
def _template(html: bool) -> Template:
    environment = SandboxedEnvironment(autoescape=html, keep_trailing_newline=True)
    return environment.from_string(_TEMPLATE)


def _pattern(values: dict[str, str]) -> re.Pattern[str]:
    """`{key}` for exactly the given keys; every other brace is left alone."""
    return re.compile("{(" + "|".join(re.escape(key) for key in values) + ")}")


def render(text: str, values: dict[str, str], *, html: bool = False) -> str:
    """Replace each `{key}` whose key is in `values`; escape the values when `html`."""
    if not text or not values:
        return text
    pieces = _pattern(values).split(text)  # literal, key, literal, key, ..., literal
    # The literal HTML is the caller's own markup (it is the body they asked us to send);
    # only the placeholder values are data to escape.
    literals = [Markup(piece) if html else piece for piece in pieces[0::2]]  # noqa: S704
    keys: list[str | None] = [*pieces[1::2], None]
    return _template(html).render(parts=list(zip(literals, keys, strict=True)), values=values)


def rendered_size(text: str, values: dict[str, str], *, html: bool = False) -> int:
    """The UTF-8 size `render` would produce, counted without producing it: a small body
    repeating a large value must be refused before it is rendered, not after."""
    if not text or not values:
        return len(text.encode())
    pattern = _pattern(values)
    sizes = {
        key: len((str(escape(value)) if html else value).encode()) for key, value in values.items()
    }
    total = len(text.encode())
    for match in pattern.finditer(text):
        key = match.group(1)
        total += sizes[key] - len(match.group(0).encode())
    return total
