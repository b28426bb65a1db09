"""The viewer's URLs under `/_local/mail` on the API port, each answered as status, headers
and bytes (the gateway writes them out; tests call `MailViewer.answer` directly):

    GET    /_local/mail                                  the page (static/index.html)
    GET    /_local/mail/static/<viewer.js|viewer.css>    its script and style
    GET    /_local/mail/api/messages?q=&limit=           summaries, newest first
    DELETE /_local/mail/api/messages                     every message
    GET    /_local/mail/api/messages/<id>                one message taken apart
    DELETE /_local/mail/api/messages/<id>                one message
    GET    /_local/mail/api/messages/<id>/raw            the .eml, as a download
    GET    /_local/mail/api/messages/<id>/html           the HTML body, for a sandboxed frame
    GET    /_local/mail/api/messages/<id>/attachments/<n>  one attachment, as a download

The HTML body is served under a policy that runs nothing and loads nothing but inline data
(`HTML_BODY_POLICY`), and the page frames it with `sandbox` as well; what a message says never
becomes markup of the page itself (static/viewer.js sets text only). The page learns of new
mail by polling the list every 2 seconds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from local_stack.mail_viewer import message_view
from local_stack.mail_viewer.mailbox import Mailbox, StoredMessage
from local_stack.mail_viewer.viewer_guard import viewer_refusal

VIEWER_PATH = "/_local/mail"
MESSAGES_PATH = f"{VIEWER_PATH}/api/messages"
STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_FILES = {
    "viewer.js": "text/javascript; charset=utf-8",
    "viewer.css": "text/css; charset=utf-8",
}
DEFAULT_LIMIT = 200
MAX_LIMIT = 1000

# The page: its own script, style and API, and frames of its own origin; nothing else.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none';"
    " frame-ancestors 'none'"
)
# A message's HTML: no script, no request anywhere (remote images, CSS and fonts would tell
# the sender the mail was opened, and reach the internet): inline styles and data: images only.
HTML_BODY_POLICY = (
    "default-src 'none'; img-src data: cid:; style-src 'unsafe-inline'; base-uri 'none';"
    " form-action 'none'; frame-ancestors 'self'; sandbox"
)
# A download is never rendered in the viewer's origin.
DOWNLOAD_POLICY = "default-src 'none'; sandbox"
# Every answer: no sniffing a download into HTML, no caching mail, no other site embedding it.
_COMMON_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ViewerRequest:
    """What the viewer reads of an HTTP request: `path` percent-decoded, `headers` with names
    in lower case, `hosts` every Host header sent."""

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    hosts: Sequence[str] | None = ("127.0.0.1",)


@dataclass(frozen=True)
class ViewerAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Handler = Callable[["MailViewer", ViewerRequest, dict[str, str]], ViewerAnswer]


def is_viewer_path(path: str) -> bool:
    """Whether a (decoded) request path is the viewer's."""
    return path == VIEWER_PATH or path.startswith(f"{VIEWER_PATH}/")


class MailViewer:
    """The viewer over the captured mail in `mail_dir`."""

    def __init__(self, mail_dir: Path) -> None:
        self.mailbox = Mailbox(mail_dir)
        # Summaries by id: a captured message never changes, and the page asks every 2 s.
        self._summaries: dict[str, dict[str, Any]] = {}

    def answer(self, request: ViewerRequest) -> ViewerAnswer:
        is_page = request.path in (VIEWER_PATH, f"{VIEWER_PATH}/")
        refusal = viewer_refusal(request.method, request.hosts, request.headers, is_page=is_page)
        if refusal is not None:
            return _json(403, {"message": refusal})
        for pattern, handlers in _ROUTES:
            found = pattern.fullmatch(request.path)
            if found is None:
                continue
            method = "GET" if request.method == "HEAD" else request.method
            handler = handlers.get(method)
            if handler is None:
                allowed = ", ".join(sorted({*handlers, "HEAD"} if "GET" in handlers else handlers))
                return _json(405, {"message": f"Use {allowed} here."}, [("Allow", allowed)])
            return handler(self, request, found.groupdict())
        return _json(404, {"message": f"No such page of the mail viewer: {request.path}"})

    # --- the page ----------------------------------------------------------------------------

    def _page(self, _request: ViewerRequest, _found: dict[str, str]) -> ViewerAnswer:
        body = (STATIC_DIR / "index.html").read_bytes()
        return _answer(
            200,
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Security-Policy", PAGE_POLICY),
                ("X-Frame-Options", "DENY"),
            ],
            body,
        )

    def _static(self, _request: ViewerRequest, found: dict[str, str]) -> ViewerAnswer:
        name = found["name"]
        return _answer(
            200, [("Content-Type", STATIC_FILES[name])], (STATIC_DIR / name).read_bytes()
        )

    # --- the API -----------------------------------------------------------------------------

    def _list(self, request: ViewerRequest, _found: dict[str, str]) -> ViewerAnswer:
        query = parse_qs(request.query)
        words = query.get("q", [""])[-1]
        limit_text = query.get("limit", [str(DEFAULT_LIMIT)])[-1]
        if not limit_text.isdigit() or not 0 < int(limit_text) <= MAX_LIMIT:
            return _json(400, {"message": f"limit is a number from 1 to {MAX_LIMIT}."})
        listed = [entry for entry in self._all_summaries() if message_view.matches(entry, words)]
        return _json(200, {"total": len(listed), "messages": listed[: int(limit_text)]})

    def _clear(self, _request: ViewerRequest, _found: dict[str, str]) -> ViewerAnswer:
        return _json(200, {"deleted": self.mailbox.clear()})

    def _detail(self, _request: ViewerRequest, found: dict[str, str]) -> ViewerAnswer:
        stored = self.mailbox.read(found["id"])
        if stored is None:
            return _no_message(found["id"])
        shown = message_view.detail(stored)
        base = f"{MESSAGES_PATH}/{stored.id}"
        shown["raw_url"] = f"{base}/raw"
        shown["html_url"] = f"{base}/html" if shown["html"] is not None else None
        for part in shown["attachments"]:
            part["url"] = f"{base}/attachments/{part['index']}"
        return _json(200, shown)

    def _delete(self, _request: ViewerRequest, found: dict[str, str]) -> ViewerAnswer:
        if not self.mailbox.delete(found["id"]):
            return _no_message(found["id"])
        return _json(200, {"deleted": 1})

    def _raw(self, _request: ViewerRequest, found: dict[str, str]) -> ViewerAnswer:
        stored = self.mailbox.read(found["id"])
        if stored is None:
            return _no_message(found["id"])
        return _download(stored.data, "message/rfc822", f"{stored.id}.eml")

    def _html(self, _request: ViewerRequest, found: dict[str, str]) -> ViewerAnswer:
        stored = self.mailbox.read(found["id"])
        document = message_view.html_document(stored) if stored is not None else None
        if document is None:
            return _json(404, {"message": f"Message {found['id']} has no HTML body here."})
        return _answer(
            200,
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Security-Policy", HTML_BODY_POLICY),
            ],
            document.encode("utf-8", "replace"),
        )

    def _attachment(self, _request: ViewerRequest, found: dict[str, str]) -> ViewerAnswer:
        stored = self.mailbox.read(found["id"])
        part = message_view.attachment(stored, int(found["n"])) if stored is not None else None
        if stored is None or part is None:
            return _json(404, {"message": f"Message {found['id']} has no attachment {found['n']}."})
        media_type = part.content_type if _MEDIA_TYPE.fullmatch(part.content_type) else ""
        name = part.filename or f"{stored.id}-part-{part.index}"
        return _download(part.data, media_type or "application/octet-stream", name)

    def _all_summaries(self) -> list[dict[str, Any]]:
        known = self._summaries
        fresh: dict[str, dict[str, Any]] = {}
        for message_id in self.mailbox.ids():
            if message_id in known:
                fresh[message_id] = known[message_id]
                continue
            stored: StoredMessage | None = self.mailbox.read(message_id)
            if stored is not None:  # deleted meanwhile
                fresh[message_id] = message_view.summary(stored)
        self._summaries = fresh
        return list(fresh.values())


_ID = r"(?P<id>[^/]+)"
_ROUTES: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
    (re.compile(f"{VIEWER_PATH}/?"), {"GET": MailViewer._page}),
    (
        re.compile(f"{VIEWER_PATH}/static/(?P<name>{'|'.join(map(re.escape, STATIC_FILES))})"),
        {"GET": MailViewer._static},
    ),
    (re.compile(MESSAGES_PATH), {"GET": MailViewer._list, "DELETE": MailViewer._clear}),
    (
        re.compile(f"{MESSAGES_PATH}/{_ID}"),
        {"GET": MailViewer._detail, "DELETE": MailViewer._delete},
    ),
    (re.compile(f"{MESSAGES_PATH}/{_ID}/raw"), {"GET": MailViewer._raw}),
    (re.compile(f"{MESSAGES_PATH}/{_ID}/html"), {"GET": MailViewer._html}),
    (
        re.compile(f"{MESSAGES_PATH}/{_ID}/attachments/(?P<n>[0-9]{{1,6}})"),
        {"GET": MailViewer._attachment},
    ),
]


def _answer(status: int, headers: list[tuple[str, str]], body: bytes) -> ViewerAnswer:
    return ViewerAnswer(status, [*headers, *_COMMON_HEADERS], body)


def _json(status: int, body: Any, headers: Sequence[tuple[str, str]] = ()) -> ViewerAnswer:
    return _answer(
        status,
        [("Content-Type", "application/json"), ("X-Frame-Options", "DENY"), *headers],
        json.dumps(body).encode(),
    )


def _download(data: bytes, media_type: str, filename: str) -> ViewerAnswer:
    """`data` as a file to save, never rendered here: what a message carries is the sender's."""
    fallback = _FILENAME_UNSAFE.sub("_", filename).strip("._") or "download"
    disposition = (
        f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
    )
    return _answer(
        200,
        [
            ("Content-Type", media_type),
            ("Content-Disposition", disposition),
            ("Content-Security-Policy", DOWNLOAD_POLICY),
        ],
        data,
    )


def _no_message(message_id: str) -> ViewerAnswer:
    return _json(404, {"message": f"No message {message_id} in the mail folder."})
