"""Inline parts: files the HTML body shows in place, by `cid:` reference (RFC 2392).

An attachment with a `content_id` becomes a part of the `multipart/related` around the bodies
(`core.composition.mime`), and `<img src="cid:logo">` in `body_html` shows the part whose
Content-ID is `<logo>`. What is checked once the message is composed (400s, nothing sent):

- each `content_id` is given once (compared without regard to case, as some clients do);
- a message with inline parts has an HTML body: a text-only message has nowhere to show them
  (`inline_without_html`), and sending them as plain attachments would hide the mistake;
- every `cid:` the HTML refers to (in an attribute or a CSS `url()`, percent-decoded as RFC
  2392 says) names one of them (`unknown_content_id`): the recipient would see a broken
  image. A part the HTML never refers to is sent all the same (clients list it as a file).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import unquote

from core.errors import InvalidRequest
from core.message import Attachment

# `cid:` just after a quote, `(` or `=` (an attribute value, quoted or not, or CSS `url(`).
_CID_REFERENCE = re.compile(r"""["'(=]\s*cid:([^"'()\s<>]+)""", re.IGNORECASE)


def check_inline_parts(attachments: Sequence[Attachment], body_html: str | None) -> None:
    """400 unless the inline parts among `attachments` and `body_html`'s `cid:` references
    agree (see the module's docstring)."""
    given: dict[str, str] = {}
    for attachment in attachments:
        if attachment.content_id is None:
            continue
        key = attachment.content_id.lower()
        if key in given:
            raise InvalidRequest(
                f"The content_id '{attachment.content_id}' is given to more than one"
                " attachment; each inline part needs its own.",
                reason="duplicate_content_id",
                context={"field": "attachments.content_id", "content_id": attachment.content_id},
            )
        given[key] = attachment.content_id
    if given and body_html is None:
        raise InvalidRequest(
            "Attachments with a 'content_id' are shown inside an HTML body; this message has"
            " none: give 'body_html', or leave 'content_id' out to attach the files.",
            reason="inline_without_html",
            context={"field": "attachments.content_id"},
        )
    for reference in referenced_content_ids(body_html or ""):
        if reference.lower() not in given:
            raise InvalidRequest(
                f"'body_html' shows 'cid:{reference}', but no attachment has that content_id.",
                reason="unknown_content_id",
                context={"field": "body_html", "content_id": reference},
            )


def referenced_content_ids(html: str) -> list[str]:
    """The Content-IDs `html` refers to with `cid:`, percent-decoded, each once, in order."""
    return list(dict.fromkeys(unquote(match) for match in _CID_REFERENCE.findall(html)))
