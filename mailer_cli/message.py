"""The send body of `mailer send`: DreamFactory's JSON, attachments read from files."""

from __future__ import annotations

import base64
import json
import mimetypes
from pathlib import Path
from typing import Any

from mailer_cli.errors import UsageError

DEFAULT_SUBJECT = "Test mail from mailer"
DEFAULT_TEXT = "A test mail sent with `mailer send`."
FALLBACK_CONTENT_TYPE = "application/octet-stream"
_CONTAINER_TYPES = ("message/", "multipart/")


def send_body(
    *,
    to: list[str] | None,
    cc: list[str] | None = None,
    bcc: list[str] | None = None,
    from_email: str | None = None,
    from_name: str | None = None,
    reply_to_email: str | None = None,
    subject: str | None = None,
    text: str | None = None,
    html: str | None = None,
    attach: list[Path] | None = None,
    template: str | None = None,
    template_data: dict[str, Any] | None = None,
    send_at: str | None = None,
    tags: list[str] | None = None,
) -> dict[str, Any]:
    """The body for `POST /api/v2/{service}`. Without a stored `template` (a name, or digits
    for its id), a test subject and text stand in for what is not given; with one, the
    template's own fill in."""
    body: dict[str, Any] = {}
    if template is None:
        body["subject"] = DEFAULT_SUBJECT if subject is None else subject
        if not (text or html):
            body["body_text"] = DEFAULT_TEXT
    elif template.isascii() and template.isdigit():  # names are never all digits
        body["template_id"] = int(template)
    else:
        body["template"] = template
    optional = {
        "to": to,
        "cc": cc,
        "bcc": bcc,
        "from_email": from_email,
        "from_name": from_name,
        "reply_to_email": reply_to_email,
        "subject": subject,
        "body_text": text,
        "body_html": html,
        "template_data": template_data,
        "send_at": send_at,
        "tags": tags,
    }
    body.update({field: value for field, value in optional.items() if value})
    if attach:
        body["attachments"] = [attachment(path) for path in attach]
    return body


def batch_parts(body: dict[str, Any], most: int) -> list[tuple[dict[str, Any], int]]:
    """The batch as requests of at most `most` items each, with each one's item count:
    `messages` cut in runs, or `recipients` in runs that each carry the shared `message`."""
    for key in ("messages", "recipients"):
        items = body.get(key)
        if isinstance(items, list):
            runs = [items[start : start + most] for start in range(0, len(items), most)] or [[]]
            return [({**body, key: run}, len(run)) for run in runs]
    return [(body, 0)]  # not a batch the API takes: it says why


def batch_body(path: Path) -> dict[str, Any]:
    """The body for `POST /api/v2/{service}/batch` in the file at `path`: as it is, or, for a
    JSON list, its items as the batch's `messages`. The API checks the rest."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"cannot read {str(path)!r}: {error.strerror}") from error
    except ValueError as error:
        raise UsageError(f"{str(path)!r} is not JSON: {error}") from error
    if isinstance(content, list):
        return {"messages": content}
    if not isinstance(content, dict):
        raise UsageError(f"{str(path)!r} holds no batch: a JSON object or list is needed")
    return content


def attachment(path: Path) -> dict[str, str]:
    """One file as DreamFactory's attachment object: its name, base64 content, guessed type."""
    try:
        content = path.read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read attachment {str(path)!r}: {error.strerror}") from error
    return {
        "name": path.name,
        "content": base64.b64encode(content).decode("ascii"),
        "content_type": content_type(path),
    }


def content_type(path: Path) -> str:
    """The media type a file's name suggests, or plain bytes where the API would refuse it."""
    guessed, encoding = mimetypes.guess_type(path.name, strict=False)
    # A compressed file is not its inner type; message/* and multipart/* are the API's to write.
    if guessed is None or encoding is not None or guessed.startswith(_CONTAINER_TYPES):
        return FALLBACK_CONTENT_TYPE
    return guessed
