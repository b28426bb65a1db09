"""An OAuth2 token endpoint on loopback for the XOAUTH2 tests: HTTPS with a test `Authority`'s
certificate (on `tests.support.web_servers.WebServer`), one registered client, both grants.

- client credentials (RFC 6749 §4.4): the client's id and secret in the form;
- a refresh token (§6): one of `refresh_tokens`, with the client's id (and its secret, if sent);
- each token issued lives `expires_in` seconds; `is_live(token)` is what the XOAUTH2 SMTP server
  asks (`CaptureServer(oauth2=...)`), `expire_tokens()` makes every token issued so far stale at
  once (the provider's side of "token stale"), `revoke(refresh_token)` answers `invalid_grant`
  for it from then on;
- scripted faults, one per request in order (`script`) or for every request (`always`): an
  OAuth2 error JSON with a code, a bare HTTP status (a 500), or an answer `delay` seconds late.
  "Down" is a closed port: `url_at(ClosedPort().port)`;
- `requests` holds every form received, in order: how many token requests were made, and with
  what.

A context manager; leaving it stops the server (and releases any answer still waiting).
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs

from tests.support.smtp_servers import LOOPBACK, Authority
from tests.support.web_servers import Arrival, RequestHandler, WebServer

TOKEN_PATH = "/tenant-1/oauth2/v2.0/token"
CLIENT_ID = "email-api-test-app"
CLIENT_SECRET = "client-secret-7Qx~S3cr3t.value"
REFRESH_TOKEN = "refresh-token-1//0gS3cr3tRefresh"


@dataclass(frozen=True)
class TokenFault:
    """One scripted answer: after `delay` seconds, an error JSON (`error`, HTTP `status`), a
    bare `status` with a body that is no JSON (`error` None), or, with neither, the normal
    answer (a slow endpoint)."""

    error: str | None = None
    status: int | None = None
    description: str | None = None
    delay: float = 0.0

    @classmethod
    def code(cls, error: str, status: int = 400, description: str | None = None) -> TokenFault:
        return cls(error=error, status=status, description=description)

    @classmethod
    def http(cls, status: int) -> TokenFault:
        return cls(status=status)

    @classmethod
    def slow(cls, seconds: float) -> TokenFault:
        return cls(delay=seconds)


class TokenServer:
    """An HTTPS token endpoint on 127.0.0.1 (see the module's docstring)."""

    def __init__(
        self,
        authority: Authority,
        *,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        refresh_tokens: tuple[str, ...] = (REFRESH_TOKEN,),
        expires_in: int | str | None = 3600,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.expires_in = expires_in
        self.requests: list[dict[str, str]] = []
        self.issued: list[str] = []  # every access token handed out, in order
        self._refresh_tokens = set(refresh_tokens)
        self._live: dict[str, float] = {}  # token -> when it expires (monotonic)
        self._script: list[TokenFault] = []
        self._always: TokenFault | None = None
        self._serial = itertools.count(1)
        self._lock = threading.Lock()
        self._web = WebServer(authority=authority)
        self._web.routes[TOKEN_PATH] = self._answer
        self.port = self._web.port

    @property
    def url(self) -> str:
        return self.url_at(self.port)

    @staticmethod
    def url_at(port: int, host: str = LOOPBACK) -> str:
        """The token URL on another port (a closed one: the endpoint is down)."""
        return f"https://{host}:{port}{TOKEN_PATH}"

    # --- what tests script and ask --------------------------------------------------------------

    def script(self, *faults: TokenFault) -> None:
        """Answer the next requests with `faults`, one each, then normally again."""
        with self._lock:
            self._script.extend(faults)

    def always(self, fault: TokenFault | None) -> None:
        """Answer every request with `fault` (None: normally again)."""
        with self._lock:
            self._always = fault

    def revoke(self, refresh_token: str) -> None:
        with self._lock:
            self._refresh_tokens.discard(refresh_token)

    def expire_tokens(self) -> None:
        """Every access token issued so far is stale from now on."""
        with self._lock:
            self._live.clear()

    @property
    def arrivals(self) -> list[Arrival]:
        """Every request as it arrived (method, headers, body), refused ones too."""
        return self._web.arrivals

    def is_live(self, token: str) -> bool:
        with self._lock:
            expires = self._live.get(token)
            return expires is not None and time.monotonic() < expires

    # --- the endpoint ----------------------------------------------------------------------------

    def _answer(self, handler: RequestHandler) -> None:
        form = {name: values[-1] for name, values in parse_qs(handler.body.decode()).items()}
        with self._lock:
            self.requests.append(form)
            fault = self._script.pop(0) if self._script else self._always
        if fault is not None and fault.delay:
            self._web.release.wait(fault.delay)
        if fault is not None and fault.status is not None:
            if fault.error is None:
                _reply(handler, fault.status, b"<html>Internal Server Error</html>", "text/html")
                return
            error: dict[str, str] = {"error": fault.error}
            if fault.description is not None:
                error["error_description"] = fault.description
            _reply_json(handler, fault.status, error)
            return
        if handler.headers.get("Content-Type") != "application/x-www-form-urlencoded":
            _reply_json(handler, 400, {"error": "invalid_request"})
            return
        status, document = self._grant(form)
        _reply_json(handler, status, document)

    def _grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = form.get("grant_type")
        secret = form.get("client_secret")
        if form.get("client_id") != self.client_id or (
            secret is not None and secret != self.client_secret
        ):
            return 401, {"error": "invalid_client", "error_description": "Unknown client."}
        if grant == "client_credentials":
            if secret is None:
                return 401, {"error": "invalid_client"}
        elif grant == "refresh_token":
            with self._lock:
                known = form.get("refresh_token") in self._refresh_tokens
            if not known:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                }
        else:
            return 400, {"error": "unsupported_grant_type"}
        token = f"ya29.test-{next(self._serial)}-{secrets.token_urlsafe(12)}"
        lifetime = float(self.expires_in) if self.expires_in is not None else 3600.0
        with self._lock:
            self._live[token] = time.monotonic() + lifetime
            self.issued.append(token)
        answer: dict[str, Any] = {"access_token": token, "token_type": "Bearer"}
        if self.expires_in is not None:
            answer["expires_in"] = self.expires_in
        return 200, answer

    # --- life cycle ---------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self._web.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._web.__exit__(exc_type, exc, traceback)


def _reply_json(handler: RequestHandler, status: int, document: dict[str, Any]) -> None:
    _reply(handler, status, json.dumps(document).encode(), "application/json")


def _reply(handler: RequestHandler, status: int, body: bytes, content_type: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Cache-Control", "no-store")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
