"""What the local stack's WSGI wrappers around moto share: reading a request's body while
leaving it for the app, and running the app to its whole answer before passing it on."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
# A status line, its headers and the body, as a WSGI app answered.
Answer = tuple[str, list[tuple[str, str]], list[bytes]]


def take_body(environ: dict[str, Any]) -> bytes:
    """Read the request body, leaving an unread copy for the app."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit():
        body: bytes = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):  # chunked: werkzeug's stream ends with the body
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return body


def answer_of(app: WsgiApp, environ: dict[str, Any]) -> Answer:
    """Run `app` on `environ` and collect its whole answer (its iterable closed after)."""
    started: list[tuple[str, list[tuple[str, str]]]] = []
    written: list[bytes] = []

    def remember(line: str, headers: Any, exc_info: Any = None) -> Callable[[bytes], Any]:
        started[:] = [(line, list(headers))]
        return written.append

    answer = app(environ, remember)
    try:
        content = written + list(answer)
    finally:
        close = getattr(answer, "close", None)
        if close is not None:
            close()
    if not started:
        raise RuntimeError("the app answered without a status line")
    line, headers = started[0]
    return line, headers, content
