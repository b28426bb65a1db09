"""SMTP servers on loopback that behave the way the tests need, and record what they receive.

- `Authority`: a trustme CA and the server certificate it issued for localhost and 127.0.0.1.
- `CaptureServer`: aiosmtpd on 127.0.0.1, plain, STARTTLS or implicit TLS, with optional AUTH
  and scripted refusals; it records each message's envelope, raw bytes, TLS and AUTH login.
- `ClosedPort` and `SilentServer`: raw sockets for the faults no real SMTP server would show.

Every server is a context manager; leaving it stops its thread and closes its sockets.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import select
import socket
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

LOOPBACK = "127.0.0.1"
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


class Security(StrEnum):
    PLAIN = "plain"  # no TLS at all: STARTTLS is not offered
    STARTTLS = "starttls"  # plain greeting, STARTTLS offered (and possibly required)
    IMPLICIT = "implicit"  # TLS from the first byte, port 465 style


@dataclass(frozen=True)
class Replies:
    """Scripted refusals; `None` (or a recipient not listed) gets the normal 250."""

    mail_from: str | None = None
    rcpt: Mapping[str, str] = field(default_factory=dict)
    every_rcpt: str | None = None
    data: str | None = None


@dataclass(frozen=True)
class Received:
    """One message as the server accepted it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes  # the DATA section, dot-unstuffed, exactly as it came over the wire
    tls: bool
    auth_login: str | None

    def parsed(self) -> EmailMessage:
        # As a mailbox stores it: with local line endings, so decoded text has no stray CRs.
        local = self.data.replace(b"\r\n", b"\n")
        message = email.message_from_bytes(local, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message


@dataclass(frozen=True)
class AuthAttempt:
    mechanism: str
    login: str
    success: bool
    tls: bool


def _is_tls(server: SMTP) -> bool:
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


class _Recorder:
    """aiosmtpd handler and authenticator: answers as scripted, records what gets through."""

    def __init__(self, credentials: tuple[str, str] | None, replies: Replies) -> None:
        self.credentials = credentials
        self.replies = replies
        # Appended on the server's thread before it answers the client, so once a send has
        # returned, everything it caused is here.
        self.messages: list[Received] = []
        self.auth_attempts: list[AuthAttempt] = []
        self.sessions = 0

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        success = self.credentials == (login, password)
        self.auth_attempts.append(AuthAttempt(mechanism, login, success, _is_tls(server)))
        return AuthResult(success=success, handled=False, auth_data=login if success else None)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        # Checked here rather than with aiosmtpd's `auth_required`, which only counts
        # STARTTLS as encryption and would refuse AUTH on an implicit-TLS connection.
        if self.credentials is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        if self.replies.mail_from:
            return self.replies.mail_from
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self.replies.rcpt.get(address) or self.replies.every_rcpt
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.replies.data:
            return self.replies.data
        data = envelope.original_content or b""
        self.messages.append(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                data=data,
                tls=_is_tls(server),
                auth_login=session.auth_data if session.authenticated else None,
            )
        )
        return "250 2.0.0 OK: queued"


class _BoundController(Controller):
    """aiosmtpd's Controller on a listening socket we bound first.

    Controller cannot listen on port 0, and a port probed free and then released can be
    taken by another test worker before the server binds it; holding the socket closes that gap.
    """

    def __init__(self, handler: Any, listener: socket.socket, **kwargs: Any) -> None:
        super().__init__(handler, hostname=LOOPBACK, port=listener.getsockname()[1], **kwargs)
        self._listener = listener

    def _create_server(self) -> Any:
        return self.loop.create_server(
            self._factory_invoker, sock=self._listener, ssl=self.ssl_context
        )

    def factory(self) -> SMTP:
        # Called once per accepted connection.
        self.handler.sessions += 1
        return super().factory()


class CaptureServer:
    """An SMTP server on 127.0.0.1 that records every message it accepts."""

    def __init__(
        self,
        *,
        security: Security = Security.PLAIN,
        authority: Authority | None = None,
        require_starttls: bool = False,
        credentials: tuple[str, str] | None = None,
        replies: Replies | None = None,
    ) -> None:
        if security is not Security.PLAIN and authority is None:
            raise ValueError(f"a {security} server needs an Authority for its certificate")
        self.security = security
        self._recorder = _Recorder(credentials, replies or Replies())
        listener = socket.create_server((LOOPBACK, 0))
        self.port: int = listener.getsockname()[1]
        tls = authority.server_context() if authority is not None else None
        self._controller = _BoundController(
            self._recorder,
            listener,
            server_hostname="localhost",
            ssl_context=tls if security is Security.IMPLICIT else None,
            tls_context=tls if security is Security.STARTTLS else None,
            require_starttls=require_starttls,
            authenticator=self._recorder.authenticate,
            # Implicit TLS is encryption too; on a plain server, offering AUTH in clear text
            # is what lets a test prove that the client never used it.
            auth_require_tls=security is Security.STARTTLS,
        )
        self._listener = listener

    @property
    def messages(self) -> list[Received]:
        return self._recorder.messages

    @property
    def auth_attempts(self) -> list[AuthAttempt]:
        return self._recorder.auth_attempts

    @property
    def sessions(self) -> int:
        """SMTP connections clients opened (not counting the one `start` makes to check)."""
        return self._recorder.sessions

    @property
    def only_message(self) -> Received:
        assert len(self.messages) == 1, f"expected one message, got {len(self.messages)}"
        return self.messages[0]

    def start(self) -> Self:
        try:
            self._controller.start()
        except BaseException:
            self._controller.stop(no_assert=True)
            if not self._controller.loop.is_closed():
                self._controller.loop.close()
            self._listener.close()
            raise
        self._recorder.sessions = 0
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()


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
