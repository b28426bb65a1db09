"""DreamFactory `{placeholder}` substitution, in one pass over the text.

DreamFactory replaces `{key}` only where `key` was given and leaves every other brace alone
(CSS rules, JSON snippets). We keep exactly that: each `{name}` token (a name holds no brace)
is looked up among the given values; a given one is replaced, anything else stays as written.
Values are inserted as they are in text and HTML-escaped in `body_html`, and never read again:
a value holding `{other}` is data, not a placeholder, and nothing in it is template syntax.

The cost is one scan of the text plus what it produces, whatever the number of values: a
pattern of every key, tried at every brace, cost their product (issue 16).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from markupsafe import escape

# A name between braces; a brace cannot be part of one, so each scan step is bounded.
_TOKEN = re.compile(r"{([^{}]*)}")


def render(text: str, values: dict[str, str], *, html: bool = False) -> str:
    """Replace each `{key}` whose key is in `values`; escape the values when `html`."""
    if not text or not values:
        return text
    inserted = _Inserted(values, html)
    pieces: list[str] = []
    end = 0
    for start, stop, key in _given_tokens(text, values):
        pieces.append(text[end:start])
        pieces.append(inserted[key])
        end = stop
    pieces.append(text[end:])
    return "".join(pieces)


def rendered_size(text: str, values: dict[str, str], *, html: bool = False) -> int:
    """The UTF-8 size `render` would produce, counted without producing it: a small body
    repeating a large value must be refused before it is rendered, not after."""
    total = len(text.encode())
    if not text or not values:
        return total
    inserted = _Inserted(values, html)
    sizes: dict[str, int] = {}
    for start, stop, key in _given_tokens(text, values):
        if key not in sizes:
            sizes[key] = len(inserted[key].encode())
        total += sizes[key] - len(text[start:stop].encode())
    return total


def _given_tokens(text: str, values: dict[str, str]) -> Iterator[tuple[int, int, str]]:
    """(start, end, key) of each `{key}` in `text` whose key is given, left to right."""
    for match in _TOKEN.finditer(text):
        key = match.group(1)
        if key in values:
            yield match.start(), match.end(), key


class _Inserted(dict[str, str]):
    """What each used value inserts, computed once however often its key occurs."""

    def __init__(self, values: dict[str, str], html: bool) -> None:
        super().__init__()
        self._values = values
        self._html = html

    def __missing__(self, key: str) -> str:
        value = self._values[key]
        # The text around it is the caller's own markup (the body they asked us to send);
        # only the values are data to escape.
        self[key] = inserted = str(escape(value)) if self._html else value
        return inserted
