"""moto in server mode: DynamoDB, Secrets Manager, SQS and S3 over HTTP on loopback, in this
process, with what it is told kept in a state directory (`local_stack.state_store`); and SES,
whose sent mail is kept in the mail folder (`local_stack.ses`).

moto checks no signature and, through flask-cors, grants CORS to any origin: as it comes, a
page open in the developer's browser could list and read every secret (the admin key, SMTP
passwords) and the tables and the queue. So its app sits behind `LocalSdksOnly`, which answers
only what a local SDK sends (`local_stack.browser_guard`): a loopback `Host`, no `Origin` or
`Sec-Fetch-*`, and a SigV4 `Authorization` header naming the stack's access key id, a header
a page can add only after a CORS preflight, which is refused like everything else a browser
sends. No answer carries an `Access-Control-*` header.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import ThreadedWSGIServer

from local_stack.browser_guard import browser_refusal, sigv4_access_key_id
from local_stack.config import HOST
from local_stack.environment import LOCAL_ACCESS_KEY_ID
from local_stack.mail_capture import MailFolder
from local_stack.moto_journal import JournalingApp
from local_stack.ses import SesCapture
from local_stack.state_store import Restored, StateStore
from local_stack.wsgi import StartResponse, WsgiApp


class MotoServer:
    """A running moto server; `endpoint_url` is what boto3 gets pointed at.

    moto's own `ThreadedMotoServer`, but with its app behind the journal and closed to
    browsers, and its state restored before the first request; with `ses_mail`, what its SES
    sends is kept there."""

    def __init__(self, port: int, state: StateStore, *, ses_mail: MailFolder | None = None) -> None:
        # werkzeug logs every request at INFO on a handler of its own unless told otherwise.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        app = DomainDispatcherApplication(create_backend_app)
        self.restored: Restored = state.restore(app)
        journal = state.journal
        if journal is None:
            raise RuntimeError("The state store has no journal after restoring.")
        journaled: WsgiApp = JournalingApp(app, journal)
        served = journaled if ses_mail is None else SesCapture(journaled, ses_mail)
        self._server = _Server(
            HOST,
            port,
            LocalSdksOnly(served, LOCAL_ACCESS_KEY_ID),
            handler=MotoRequestHandler,
        )
        # A short poll keeps `stop()` quick; werkzeug's default half second is felt at each stop.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="moto-server", daemon=True
        )
        self._thread.start()
        self.endpoint_url = f"http://{HOST}:{self._server.server_port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()


class _Server(ThreadedWSGIServer):
    # Request threads are tracked and joined, so `stop()` returns once every request is
    # answered and journaled: none is left to write after the final snapshot.
    daemon_threads = False


class LocalSdksOnly:
    """A WSGI app answering only requests an SDK signed with `access_key_id`, never a browser's,
    and never with a CORS header."""

    def __init__(self, app: WsgiApp, access_key_id: str) -> None:
        self._app = app
        self._access_key_id = access_key_id

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        refusal = self._refusal(environ)
        if refusal is not None:
            # Method and path only: the query may hold a signature, the body a secret.
            method, path = environ.get("REQUEST_METHOD", "?"), environ.get("PATH_INFO", "/")
            sys.stderr.write(f"moto: refused {method} {path}: {refusal}\n")
            return _access_denied(start_response, f"The local AWS endpoint {refusal}")

        def without_cors(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [(n, v) for n, v in headers if not n.lower().startswith("access-control-")]
            return start_response(status, kept, exc_info)

        return self._app(environ, without_cors)

    def _refusal(self, environ: dict[str, Any]) -> str | None:
        host = environ.get("HTTP_HOST")
        header_names = [key[5:].replace("_", "-") for key in environ if key.startswith("HTTP_")]
        refusal = browser_refusal(None if host is None else [host], header_names)
        if refusal is not None:
            return refusal
        key_id = sigv4_access_key_id(environ.get("HTTP_AUTHORIZATION"))
        if key_id is None:
            return "answers only what an AWS SDK signed (an AWS4-HMAC-SHA256 Authorization header)."
        if key_id != self._access_key_id:
            return f"answers only the local stack's access key id ({self._access_key_id!r})."
        return None


def _access_denied(start_response: StartResponse, message: str) -> list[bytes]:
    """A 403 as AWS's JSON protocols give it: boto3 raises `AccessDeniedException`."""
    body = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
    start_response(
        "403 Forbidden",
        [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("Content-Length", str(len(body))),
            ("x-amzn-ErrorType", "AccessDeniedException"),
        ],
    )
    return [body]
