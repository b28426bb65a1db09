"""The tests' SMTP servers on loopback, built on the toolkit in `local_stack.smtp`.

- `Authority`: a trustme CA and the server certificate it issued for localhost and 127.0.0.1.
- `CaptureServer`: aiosmtpd on 127.0.0.1, plain, STARTTLS or implicit TLS, with optional AUTH
  and scripted refusals, offering PIPELINING when asked to; it records each message's envelope,
  raw bytes, TLS, AUTH login and arrival time. `ScriptedServer` is one whose refusals change
  from one transaction to the next.
- `ClosedPort` and `SilentServer`: raw sockets for the faults no real SMTP server would show.
- `FaultServer` (from `local_stack.smtp.faults`, with `At`, `Act`, `Fault`): a scripted SMTP
  server that answers a chosen code, drops or resets the connection or stalls at a chosen point
  of the session (in the middle of a message too), or streams a reply that never fits
  (`Stream`), and records every session.

XOAUTH2: `CaptureServer(oauth2=tokens)` offers AUTH XOAUTH2 as Gmail and Exchange Online do,
checking the bearer token against `tokens` (a `tests.support.token_server.TokenServer`): 235 for a
live one; for a stale or unknown one, Gmail's `334 <base64 JSON error>` and, after the client's
empty line, `535 5.7.8`, or (`oauth2_style="microsoft"`) Exchange Online's `535 5.7.3` at once.
Every attempt is recorded, the whole decoded XOAUTH2 string included (`xoauth2_attempts`).

Every server is a context manager; leaving it stops its threads and closes its sockets.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import select
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Literal, Protocol, Self

import trustme
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, Session

from local_stack.config import HOST
from local_stack.smtp.capture import ACCEPTED, AuthAttempt, CaptureHandler, Received, Replies
from local_stack.smtp.fault_script import Act, At, Fault, InTransaction, Stream
from local_stack.smtp.fault_session import MESSAGE_DATA, Arrival, FaultSession
from local_stack.smtp.faults import FaultServer
from local_stack.smtp.loopback import LoopbackSmtp, Security, is_tls

__all__ = [
    "LOOPBACK",
    "MESSAGE_DATA",
    "Act",
    "Arrival",
    "At",
    "AuthAttempt",
    "Authorities",
    "Authority",
    "CaptureServer",
    "ClosedPort",
    "Fault",
    "FaultServer",
    "FaultSession",
    "InTransaction",
    "Received",
    "Replies",
    "ScriptedServer",
    "Security",
    "SilentServer",
    "Stream",
    "XOAuth2Attempt",
    "without_chunking",
]

LOOPBACK = HOST


def without_chunking() -> tuple[str, ...]:
    """What this test run's servers offer (`FaultServer.default_extensions`) less CHUNKING, for
    a test whose premise is a failure before the message is written: with CHUNKING, pipelined,
    the message goes with the envelope, and the same failure leaves its outcome unknown (see
    core.transport.smtp.session and tests/integration/conftest.py)."""
    return tuple(word for word in FaultServer.default_extensions if word != "CHUNKING")


SERVER_NAMES = ("localhost", LOOPBACK)


# --- certificates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Authority:
    """A test CA, its PEM bundle on disk, and a server certificate for localhost/127.0.0.1."""

    ca: trustme.CA
    server_cert: trustme.LeafCert
    bundle: Path

    @classmethod
    def create(cls, directory: Path, name: str) -> Authority:
        """A new CA named `name`, its bundle written to `directory`."""
        ca = trustme.CA(organization_name=f"email-api tests: {name}")
        bundle = directory / f"{name}-ca.pem"
        ca.cert_pem.write_to_path(str(bundle))
        return cls(ca=ca, server_cert=ca.issue_cert(*SERVER_NAMES), bundle=bundle)

    def issued_for(self, *names: str) -> Authority:
        """The same CA, presenting a certificate for other names (a hostname mismatch)."""
        return Authority(ca=self.ca, server_cert=self.ca.issue_cert(*names), bundle=self.bundle)

    def server_context(self) -> ssl.SSLContext:
        """What the SMTP server presents: this authority's server certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server_cert.configure_cert(context)
        return context


@dataclass(frozen=True)
class Authorities:
    trusted: Authority  # its CA bundle is SMTP_CA_FILE in every integration test
    untrusted: Authority  # a CA nobody trusts: the "self-signed certificate" case


# --- the capture server -----------------------------------------------------------------------


class _OfferingHandler(CaptureHandler):
    """A capture handler whose EHLO reply offers `extensions` on top of aiosmtpd's own."""

    def __init__(
        self, keep: Callable[[Received], None], *, extensions: Sequence[str], **options: Any
    ) -> None:
        super().__init__(keep, **options)
        self._extensions = extensions

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        # aiosmtpd's five-argument hook: what it would say, ending with its "250 HELP" line.
        session.host_name = hostname
        *lines, last = responses
        return [*lines, *(f"250-{keyword}" for keyword in self._extensions), last]


class BearerTokens(Protocol):
    """What the XOAUTH2 server asks of the token endpoint: whether a token is live."""

    def is_live(self, token: str) -> bool: ...


OAuth2Style = Literal["google", "microsoft"]
# What Gmail sends back (base64) when a token is stale, before its 535 (Google's XOAUTH2 doc).
GOOGLE_STALE_TOKEN = {"status": "401", "schemes": "Bearer", "scope": "https://mail.google.com/"}
GOOGLE_535 = (
    "535 5.7.8 Username and Password not accepted. Learn more at"
    " https://support.google.com/mail/?p=BadCredentials"
)
MICROSOFT_535 = "535 5.7.3 Authentication unsuccessful"


@dataclass(frozen=True)
class XOAuth2Attempt:
    """One AUTH XOAUTH2: the decoded initial response as it arrived, and its parts."""

    string: str  # `user=<user>\x01auth=Bearer <token>\x01\x01`, as the client sent it
    user: str
    token: str
    success: bool
    tls: bool


class _XOAuth2Handler(_OfferingHandler):
    """The capture handler with AUTH XOAUTH2 (aiosmtpd offers each `auth_<name>` method of a
    handler as a mechanism), checking bearer tokens against `tokens`."""

    def __init__(
        self,
        keep: Callable[[Received], None],
        *,
        tokens: BearerTokens,
        style: OAuth2Style,
        **options: Any,
    ) -> None:
        super().__init__(keep, **options)
        self._tokens = tokens
        self._style = style
        self.xoauth2_attempts: list[XOAuth2Attempt] = []

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        if len(args) == 2:
            try:
                response = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                await server.push("501 5.5.2 Cannot decode base64")
                return AuthResult(success=False, handled=True)
        else:  # no initial response: an empty challenge asks for it (RFC 4954)
            challenged = await server.challenge_auth("")
            if challenged is MISSING:
                return AuthResult(success=False, handled=True)
            response = bytes(challenged)
        string = response.decode("utf-8", errors="replace")
        user, token = _xoauth2_parts(string)
        live = token is not None and self._tokens.is_live(token)
        self.xoauth2_attempts.append(
            XOAuth2Attempt(string, user or "", token or "", live, is_tls(server))
        )
        self.logins.append(AuthAttempt("XOAUTH2", user or "", live, is_tls(server)))
        if live:
            return AuthResult(success=True, handled=False, auth_data=user)
        if token is None:
            return AuthResult(success=False, handled=False, message="501 5.5.2 Malformed XOAUTH2")
        if self._style == "microsoft":
            return AuthResult(success=False, handled=False, message=MICROSOFT_535)
        # Gmail: the error as a challenge; whatever the client answers (an empty line), 535.
        error = json.dumps(GOOGLE_STALE_TOKEN, separators=(",", ":"))
        if await server.challenge_auth(error) is MISSING:  # "*" or bad base64: answered
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False, message=GOOGLE_535)


def _xoauth2_parts(string: str) -> tuple[str | None, str | None]:
    """The user and the bearer token of `user=...^Aauth=Bearer ...^A^A` (^A: 0x01); None for
    a part missing or malformed."""
    fields = string.split("\x01")
    if len(fields) != 4 or fields[2:] != ["", ""]:
        return None, None
    user = fields[0].removeprefix("user=") if fields[0].startswith("user=") else None
    scheme, _, token = fields[1].removeprefix("auth=").partition(" ")
    if not fields[1].startswith("auth=") or scheme != "Bearer" or not token:
        return user, None
    return user, token


class CaptureServer:
    """An SMTP server on 127.0.0.1 that records every message it accepts.

    It always offers AUTH (see `LoopbackSmtp`); with `credentials`, a client must use exactly
    those before MAIL FROM. `replies` scripts refusals for every transaction, `script` for the
    n-th one (see `local_stack.smtp.capture`); `accepted` is its answer to a message it took.

    `extensions` are offered on top: PIPELINING, which aiosmtpd takes as it comes (it reads one
    command at a time, whatever arrived at once); not CHUNKING, since it knows no BDAT. None:
    those of `default_extensions` it can offer, which a test run may switch for every server it
    starts (see tests/integration/conftest.py).
    """

    OFFERABLE = frozenset({"PIPELINING"})
    default_extensions: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        *,
        security: Security = Security.PLAIN,
        authority: Authority | None = None,
        require_starttls: bool = False,
        credentials: tuple[str, str] | None = None,
        replies: Replies | None = None,
        script: Sequence[Replies] = (),
        extensions: Sequence[str] | None = None,
        accepted: str = ACCEPTED,
        oauth2: BearerTokens | None = None,
        oauth2_style: OAuth2Style = "google",
    ) -> None:
        if security is not Security.PLAIN and authority is None:
            raise ValueError(f"a {security} server needs an Authority for its certificate")
        if extensions is None:
            extensions = [e for e in self.default_extensions if e in self.OFFERABLE]
        if unknown := set(extensions) - self.OFFERABLE:
            raise ValueError(f"aiosmtpd cannot offer {sorted(unknown)}")
        self.security = security
        self.extensions = tuple(extensions)
        self.messages: list[Received] = []
        options: dict[str, Any] = {
            "extensions": self.extensions,
            "credentials": credentials,
            "replies": replies,
            "script": script,
            "accepted": accepted,
        }
        self._handler = (
            _XOAuth2Handler(self.messages.append, tokens=oauth2, style=oauth2_style, **options)
            if oauth2 is not None
            else _OfferingHandler(self.messages.append, **options)
        )
        self._server = LoopbackSmtp(
            self._handler,
            security=security,
            tls=authority.server_context() if authority is not None else None,
            require_starttls=require_starttls,
            authenticator=self._handler.authenticate,
        )
        self.port: int = self._server.port

    @property
    def auth_attempts(self) -> list[AuthAttempt]:
        return self._handler.logins

    @property
    def xoauth2_attempts(self) -> list[XOAuth2Attempt]:
        """Every AUTH XOAUTH2 (a server made with `oauth2=` only)."""
        if not isinstance(self._handler, _XOAuth2Handler):
            raise AssertionError("this server offers no XOAUTH2: start it with oauth2=...")
        return self._handler.xoauth2_attempts

    @property
    def sessions(self) -> int:
        """SMTP connections clients opened."""
        return self._server.sessions

    @property
    def most_open_at_once(self) -> int:
        """The most SMTP connections clients held open at the same time."""
        return self._server.most_open_at_once

    @property
    def open_now(self) -> int:
        """SMTP connections clients hold open right now."""
        return self._server.open_now

    @property
    def transactions(self) -> list[str]:
        """The sender of every MAIL FROM received: one per SMTP transaction attempted."""
        return self._handler.senders

    @property
    def recipients(self) -> list[list[str]]:
        """The RCPT TOs of each transaction, accepted or not."""
        return self._handler.recipients

    @property
    def only_message(self) -> Received:
        assert len(self.messages) == 1, f"expected one message, got {len(self.messages)}"
        return self.messages[0]

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()


class ScriptedServer(CaptureServer):
    """A plain capture server whose replies change from one transaction to the next.

    Retries need a server that fails first and recovers later:
    `ScriptedServer([Replies(mail_from="421 ..."), ...])` answers the n-th transaction (the n-th
    MAIL FROM) with `script[n]`, and normally once the script is done. `transactions` counts
    every MAIL FROM, so a test can tell how many SMTP transactions were attempted.
    """

    def __init__(self, script: Sequence[Replies] = ()) -> None:
        super().__init__(script=script)


# --- raw-socket faults ------------------------------------------------------------------------


class ClosedPort:
    """A loopback port with nothing listening: connecting is refused at once.

    The socket stays bound (but not listening) so no other process can take the port meanwhile.
    """

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind((LOOPBACK, 0))
        self.port: int = self._socket.getsockname()[1]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._socket.close()


class SilentServer:
    """Accepts TCP connections and never says a word: the client waits for a greeting."""

    _POLL_SECONDS = 0.05

    def __init__(self) -> None:
        self._listener = socket.create_server((LOOPBACK, 0))
        self.port: int = self._listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="silent-smtp", daemon=True)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            readable, _, _ = select.select([self._listener], [], [], self._POLL_SECONDS)
            if readable:
                connection, _ = self._listener.accept()
                self.connections.append(connection)

    def received(self) -> bytes:
        """What clients sent before giving up (one waiting for a greeting sends nothing)."""
        data = b""
        for connection in self.connections:
            connection.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                data += connection.recv(65536)
        return data

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stopping.set()
        self._thread.join()
        for connection in self.connections:
            connection.close()
        self._listener.close()
