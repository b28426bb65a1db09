"""One captured message taken apart for the viewer: what its list shows, and what its page shows.

Everything here comes from whoever sent the mail, and is returned as plain strings and numbers
for JSON: escaping is the page's job (it only ever sets text, never markup), and the HTML body
is only ever shown by `routes` in a sandboxed frame under a policy that loads nothing remote.
Bcc recipients are in the envelope only: they are the envelope's recipients that no To or Cc
header names.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser, BytesParser
from email.policy import default
from email.utils import getaddresses
from typing import Any
from urllib.parse import unquote

from local_stack.mail_viewer.mailbox import StoredMessage

# The headers a message's list entry shows, and the search looks in (with the envelope).
_LISTED_HEADERS = {"subject": "Subject", "from": "From", "to": "To", "cc": "Cc"}
# `cid:` references in an HTML body, up to a quote, a space, a bracket or a parenthesis.
_CID_REFERENCE = re.compile(r"cid:([^\"'\s<>()]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Attachment:
    """A part that is neither the message's text nor its HTML body, numbered in message order."""

    index: int
    filename: str | None
    content_type: str
    content_id: str | None
    inline: bool
    data: bytes

    def described(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "filename": self.filename,
            "content_type": self.content_type,
            "content_id": self.content_id,
            "inline": self.inline,
            "size": len(self.data),
        }


def summary(stored: StoredMessage) -> dict[str, Any]:
    """What the list shows of a message: its headers that say who and what, and its envelope."""
    headers = BytesHeaderParser(policy=default).parsebytes(stored.data)
    listed = {key: _header_text(headers, name) for key, name in _LISTED_HEADERS.items()}
    return {
        "id": stored.id,
        "received_at": _text(stored.envelope.get("received_at")),
        **listed,
        "mail_from": _text(stored.envelope.get("mail_from")),
        "rcpt_tos": _texts(stored.envelope.get("rcpt_tos")),
        "size": len(stored.data),
    }


def matches(listed: dict[str, Any], query: str) -> bool:
    """Whether every word of `query` is in the subject, From, To, Cc or the envelope
    (case-insensitively)."""
    fields = [listed[key] for key in (*_LISTED_HEADERS, "mail_from")] + listed["rcpt_tos"]
    haystack = "\n".join(fields).casefold()
    return all(word in haystack for word in query.casefold().split())


def detail(stored: StoredMessage) -> dict[str, Any]:
    """The message's page: every header, its text and HTML bodies, its envelope with the Bcc
    recipients, and its attachments."""
    message = _parsed(stored.data)
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    listed = summary(stored)
    named = {
        address.casefold() for _, address in getaddresses([listed["to"], listed["cc"]]) if address
    }
    envelope = {
        "mail_from": listed["mail_from"],
        "rcpt_tos": listed["rcpt_tos"],
        "bcc": [rcpt for rcpt in listed["rcpt_tos"] if rcpt.casefold() not in named],
        "message_id": _text(stored.envelope.get("message_id")),
        "provider_message_id": stored.envelope.get("provider_message_id"),
    }
    return {
        **listed,
        "date": _header_text(message, "Date"),
        "headers": _all_headers(message),
        "envelope": envelope,
        "text": _content_text(text_part) if text_part is not None else None,
        "html": html_document(stored) if html_part is not None else None,
        "attachments": [part.described() for part in attachments(message)],
    }


def html_document(stored: StoredMessage) -> str | None:
    """The HTML body, its `cid:` images made data: URLs of the message's own parts (a frame
    that loads nothing remote still shows them); None for a message without one."""
    message = _parsed(stored.data)
    html_part = message.get_body(preferencelist=("html",))
    if html_part is None:
        return None
    images = {
        part.content_id: f"data:{part.content_type};base64,{base64.b64encode(part.data).decode()}"
        for part in attachments(message)
        if part.content_id
    }

    def resolved(reference: re.Match[str]) -> str:
        return images.get(unquote(reference[1]), reference[0])

    return _CID_REFERENCE.sub(resolved, _content_text(html_part))


def attachment(stored: StoredMessage, index: int) -> Attachment | None:
    """The message's attachment number `index`, or None."""
    found = attachments(_parsed(stored.data))
    return found[index] if 0 <= index < len(found) else None


def attachments(message: EmailMessage) -> list[Attachment]:
    """Every leaf part but the text and HTML bodies, in message order."""
    bodies = {
        id(part)
        for part in (
            message.get_body(preferencelist=("plain",)),
            message.get_body(preferencelist=("html",)),
        )
        if part is not None
    }
    found: list[Attachment] = []
    for part in message.walk():
        if part.is_multipart() or id(part) in bodies:
            continue
        payload = part.get_payload(decode=True)
        content_id = str(part.get("Content-ID", "")).strip().strip("<>") or None
        found.append(
            Attachment(
                index=len(found),
                filename=part.get_filename(),
                content_type=part.get_content_type(),
                content_id=content_id,
                inline=part.get_content_disposition() != "attachment",
                data=payload if isinstance(payload, bytes) else b"",
            )
        )
    return found


def _parsed(data: bytes) -> EmailMessage:
    # Local line endings, as a mailbox stores them: decoded text then has no stray CRs.
    message = BytesParser(policy=default).parsebytes(data.replace(b"\r\n", b"\n"))
    assert isinstance(message, EmailMessage)  # what the default policy parses into
    return message


def _content_text(part: Message) -> str:
    """A text part decoded; a charset Python does not know is read as UTF-8, replacing what
    does not decode."""
    try:
        content = part.get_content()  # type: ignore[attr-defined]  # an EmailMessage's part
    except (LookupError, ValueError):
        content = None
    if isinstance(content, str):
        return content
    payload = part.get_payload(decode=True)
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _all_headers(message: Message) -> list[dict[str, str]]:
    headers = []
    for name, raw in message.raw_items():
        try:
            value = str(message.policy.header_fetch_parse(name, raw))
        except Exception:  # a header too broken to decode is shown as it came
            value = str(raw)
        headers.append({"name": str(name), "value": value})
    return headers


def _header_text(message: Message, name: str) -> str:
    try:
        return str(message.get(name, ""))
    except Exception:  # a header too broken to decode: shown empty in the list
        return ""


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _texts(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []
