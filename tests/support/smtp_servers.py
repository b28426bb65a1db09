"""SMTP servers on loopback that behave the way the tests need, and record what they receive.

- `Authority`: a trustme CA and the server certificate it issued for localhost and 127.0.0.1.
- `CaptureServer`: aiosmtpd on 127.0.0.1, plain, STARTTLS or implicit TLS, with optional AUTH
  and scripted refusals; it records each message's envelope, raw bytes, TLS, AUTH login and
  arrival time.
- `ClosedPort` and `SilentServer`: raw sockets for the faults no real SMTP server would show.
- `FaultServer`: a scripted SMTP server on a raw socket that answers a chosen code, drops or
  resets the connection or stalls at a chosen point of the session (in the middle of a message
  too), and records every session.

Every server is a context manager; leaving it stops its thread and closes its sockets.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterable, Mapping
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
    # When the final dot arrived (epoch seconds): made as the server takes the message.
    arrived_at: float = field(default_factory=time.time)

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


# --- the scripted fault server ----------------------------------------------------------------


class At(StrEnum):
    """A point where an SMTP server answers the client; a `Fault` replaces that answer."""

    GREETING = "greeting"
    EHLO = "ehlo"  # HELO too
    STARTTLS = "starttls"
    AUTH = "auth"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"  # the DATA command: where the 354 goes
    MESSAGE = "message"  # after the 354, before the final dot is read (see `Fault.after_bytes`)
    END_OF_DATA = "end_of_data"  # the message and its final dot have arrived
    QUIT = "quit"


class Act(StrEnum):
    ANSWER = "answer"  # send the scripted reply instead of the normal one
    # Close the connection instead of answering. The kernel says FIN when the server has read
    # everything the client sent, RST when some of it is still unread (as at MESSAGE).
    DROP = "drop"
    RESET = "reset"  # abort the connection: SO_LINGER 0, so an RST whatever was read
    STALL = "stall"  # never answer; wait for the client to give up


@dataclass(frozen=True)
class Fault:
    """What the server does at `at` instead of its normal answer.

    At `At.MESSAGE` nothing is answered: the server reads `after_bytes` bytes of the message,
    then acts as soon as more of it waits unread (so a DROP there is a close with unread data,
    an RST); with `after_bytes=None` it reads none and acts only once the whole message, final
    dot included, waits unread: the client has written all of it. A STALL there stops reading.
    """

    at: At
    act: Act
    reply: str = ""
    # At RCPT: the recipients it applies to (none listed: every recipient).
    recipients: frozenset[str] = frozenset()
    after_bytes: int | None = None

    @classmethod
    def answer(cls, at: At, reply: str, *, recipients: Iterable[str] = ()) -> Fault:
        return cls(at, Act.ANSWER, reply, frozenset(recipients))

    @classmethod
    def drop(
        cls, at: At, *, recipients: Iterable[str] = (), after_bytes: int | None = None
    ) -> Fault:
        return cls(at, Act.DROP, recipients=frozenset(recipients), after_bytes=after_bytes)

    @classmethod
    def reset(cls, at: At, *, after_bytes: int | None = None) -> Fault:
        return cls(at, Act.RESET, after_bytes=after_bytes)

    @classmethod
    def stall(
        cls, at: At, *, recipients: Iterable[str] = (), after_bytes: int | None = None
    ) -> Fault:
        return cls(at, Act.STALL, recipients=frozenset(recipients), after_bytes=after_bytes)

    def applies(self, at: At, recipient: str | None) -> bool:
        return self.at is at and (not self.recipients or recipient in self.recipients)


@dataclass(frozen=True)
class Arrival:
    """A message whose final dot reached the server, and the server's answer to it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes  # the DATA section, dot-unstuffed, without the final dot's line
    answer: str | None  # None: the server dropped the connection or stalled instead

    @property
    def delivered(self) -> bool:
        return self.answer is not None and self.answer.startswith("2")


@dataclass
class FaultSession:
    """One SMTP connection as the server saw it."""

    # Each command line as received (without CRLF), in order; message lines are not commands.
    commands: list[str] = field(default_factory=list)
    arrivals: list[Arrival] = field(default_factory=list)

    @property
    def verbs(self) -> list[str]:
        return [command.split(" ", 1)[0].upper() for command in self.commands]

    @property
    def transactions(self) -> int:
        """MAIL FROM commands: each starts an SMTP transaction."""
        return self.verbs.count("MAIL")

    @property
    def message_arrived(self) -> bool:
        """Whether a whole message, final dot included, reached the server."""
        return bool(self.arrivals)


class _Hangup(Exception):
    """The session is over: the client left, the script dropped it, or the server is stopping."""


class _Wire:
    """Line-oriented reads and writes on one connection, giving up when the server stops."""

    _POLL_SECONDS = 0.05

    def __init__(self, connection: socket.socket, stopping: threading.Event) -> None:
        self._connection = connection
        self._stopping = stopping
        self._buffer = b""

    def readline(self) -> bytes:
        while b"\n" not in self._buffer:
            self._fill()
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line + b"\n"

    def send(self, reply: str) -> None:
        try:
            self._connection.sendall(reply.encode() + b"\r\n")
        except OSError as error:
            raise _Hangup from error

    def wait_for_hangup(self) -> None:
        """Read and ignore everything until the client closes (or the server stops)."""
        while True:
            self._fill()
            self._buffer = b""

    def skip(self, count: int) -> None:
        """Read and drop `count` bytes, and not one more from the kernel."""
        while len(self._buffer) < count:
            self._fill(count - len(self._buffer))
        self._buffer = self._buffer[count:]

    def wait_unread(self, ending: bytes | None = None) -> None:
        """Wait, reading nothing more, until data waits unread in the kernel's receive buffer;
        with `ending`, until what waits (after anything read already) ends with it."""
        if ending is None:
            self._wait_readable()
            return
        while not (self._buffer + self._peek()).endswith(ending):
            # Readable only once more than what is there now has come: no busy loop.
            waiting = len(self._peek())
            self._connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, waiting + 1)
            self._wait_readable()
            if len(self._peek()) == waiting:
                raise _Hangup  # readable with nothing new: the client closed

    def abort(self) -> None:
        """Make the coming close an abort: an RST, whatever was read or not."""
        self._connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def stop_reading(self) -> None:
        """Read nothing more, until the server stops."""
        self._stopping.wait()
        raise _Hangup

    def _peek(self) -> bytes:
        size = self._connection.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        try:
            return self._connection.recv(size, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return b""
        except OSError as error:
            raise _Hangup from error

    def _wait_readable(self) -> None:
        while not select.select([self._connection], [], [], self._POLL_SECONDS)[0]:
            if self._stopping.is_set():
                raise _Hangup

    def _fill(self, limit: int = 65536) -> None:
        self._wait_readable()
        try:
            chunk = self._connection.recv(min(limit, 65536))
        except OSError as error:
            raise _Hangup from error
        if not chunk:
            raise _Hangup
        self._buffer += chunk


class FaultServer:
    """An SMTP server on 127.0.0.1 that misbehaves as scripted and records every session.

    Without faults it behaves: it offers SIZE and AUTH PLAIN (any credentials pass), and STARTTLS
    only when a fault is scripted for it, since it cannot really do TLS. The first fault that
    applies replaces the normal answer; a 421, as RFC 5321 says, also closes the connection.
    `faulty_sessions` limits the faults to the first N sessions (a server that recovers), and
    `then` scripts the sessions after those (a server that changes its mind).
    `receive_buffer` sets each connection's SO_RCVBUF (the kernel doubles it), so that a client
    writing a message bigger than the buffers on both sides is still writing when the server
    stops reading. Sessions are served one after another, so a stalled one holds the next until
    it ends (a STALL at MESSAGE: until the server stops).
    """

    _POLL_SECONDS = 0.05

    def __init__(
        self,
        *faults: Fault,
        faulty_sessions: int | None = None,
        then: tuple[Fault, ...] = (),
        receive_buffer: int | None = None,
    ) -> None:
        self.faults = faults
        self.faulty_sessions = faulty_sessions
        self.then = then
        self.sessions: list[FaultSession] = []
        self._listener = _listener(receive_buffer)
        self.port: int = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fault-smtp", daemon=True)

    @property
    def only_session(self) -> FaultSession:
        assert len(self.sessions) == 1, f"expected one session, got {len(self.sessions)}"
        return self.sessions[0]

    @property
    def transactions(self) -> int:
        return sum(session.transactions for session in self.sessions)

    @property
    def delivered(self) -> list[Arrival]:
        """Messages the server took (a 2xx to the final dot), over every session."""
        return [a for session in self.sessions for a in session.arrivals if a.delivered]

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stopping.set()
        self._thread.join()
        self._listener.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            if not select.select([self._listener], [], [], self._POLL_SECONDS)[0]:
                continue
            connection, _ = self._listener.accept()
            session = FaultSession()
            faulty = self.faulty_sessions is None or len(self.sessions) < self.faulty_sessions
            self.sessions.append(session)
            with connection, contextlib.suppress(_Hangup):
                wire = _Wire(connection, self._stopping)
                self._converse(wire, session, self.faults if faulty else self.then)

    def _converse(self, wire: _Wire, session: FaultSession, faults: tuple[Fault, ...]) -> None:
        """Play one session until the client quits or a fault ends it (raising `_Hangup`)."""

        def respond(at: At, normal: str, recipient: str | None = None) -> str:
            return self._carry_out(wire, self._decide(faults, at, normal, recipient))

        respond(At.GREETING, "220 localhost ESMTP fault server")
        mail_from, rcpt_tos = "", list[str]()
        while True:
            command = wire.readline().decode("utf-8", "replace").rstrip("\r\n")
            session.commands.append(command)
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                respond(At.EHLO, self._ehlo_reply())
            elif verb == "HELO":
                respond(At.EHLO, "250 localhost")
            elif verb == "STARTTLS":
                respond(At.STARTTLS, "454 4.7.0 TLS not available")
            elif verb == "AUTH":
                respond(At.AUTH, "235 2.7.0 Authentication successful")
            elif verb == "MAIL":
                mail_from, rcpt_tos = _address(command), []
                respond(At.MAIL, "250 2.1.0 OK")
            elif verb == "RCPT":
                recipient = _address(command)
                if respond(At.RCPT, "250 2.1.5 OK", recipient).startswith("2"):
                    rcpt_tos.append(recipient)
            elif verb == "DATA":
                ready = "354 End data with <CR><LF>.<CR><LF>"
                reply = respond(At.DATA, ready if rcpt_tos else "554 5.5.1 No valid recipients")
                if reply.startswith("354"):
                    self._interrupt(wire, self._decide(faults, At.MESSAGE, ""))
                    data = _read_data(wire)
                    verdict = self._decide(faults, At.END_OF_DATA, "250 2.0.0 OK: queued")
                    answer = verdict.reply if verdict.act is Act.ANSWER else None
                    # Recorded before answering: once the client has its reply, it is here.
                    session.arrivals.append(Arrival(mail_from, rcpt_tos, data, answer))
                    self._carry_out(wire, verdict)
                    mail_from, rcpt_tos = "", []
            elif verb == "RSET":
                mail_from, rcpt_tos = "", []
                wire.send("250 2.0.0 OK")
            elif verb == "NOOP":
                wire.send("250 2.0.0 OK")
            elif verb == "QUIT":
                respond(At.QUIT, "221 2.0.0 Bye")
                return
            else:
                wire.send("502 5.5.2 Command not recognized")

    @staticmethod
    def _interrupt(wire: _Wire, fault: Fault) -> None:
        """At MESSAGE: do what `fault` says in the middle of the message (see `Fault`)."""
        if fault.act is Act.ANSWER:
            return  # no fault: the message is read as usual
        if fault.after_bytes is None:
            wire.wait_unread(ending=b"\r\n.\r\n")
        else:
            wire.skip(fault.after_bytes)
            wire.wait_unread()
        if fault.act is Act.STALL:
            wire.stop_reading()
        if fault.act is Act.RESET:
            wire.abort()
        raise _Hangup

    @staticmethod
    def _decide(
        faults: tuple[Fault, ...], at: At, normal: str, recipient: str | None = None
    ) -> Fault:
        scripted = (fault for fault in faults if fault.applies(at, recipient))
        return next(scripted, Fault.answer(at, normal))

    @staticmethod
    def _carry_out(wire: _Wire, fault: Fault) -> str:
        """Do what `fault` says; the reply sent, or `_Hangup` when the session ends here."""
        if fault.act is Act.RESET:
            wire.abort()
        if fault.act in (Act.DROP, Act.RESET):
            raise _Hangup
        if fault.act is Act.STALL:
            wire.wait_for_hangup()
        wire.send(fault.reply)
        if fault.reply.startswith("421"):
            raise _Hangup
        return fault.reply

    def _ehlo_reply(self) -> str:
        keywords = ["SIZE 10485760", "8BITMIME", "AUTH PLAIN"]
        if any(fault.at is At.STARTTLS for fault in self.faults):
            keywords.append("STARTTLS")
        lines = ["localhost", *keywords]
        return "\r\n".join(f"250-{line}" for line in lines[:-1]) + f"\r\n250 {lines[-1]}"


def _listener(receive_buffer: int | None) -> socket.socket:
    """A listening socket on loopback; accepted connections inherit its SO_RCVBUF, which must
    be set before `listen` to size the window the handshake offers."""
    if receive_buffer is None:
        return socket.create_server((LOOPBACK, 0))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    listener.bind((LOOPBACK, 0))
    listener.listen()
    return listener


def _address(command: str) -> str:
    """The address in `MAIL FROM:<a@b> SIZE=1` or `RCPT TO:<a@b>`."""
    return command.partition("<")[2].partition(">")[0]


def _read_data(wire: _Wire) -> bytes:
    """The DATA section up to its final dot, with the client's dot-stuffing undone."""
    lines = []
    while (line := wire.readline()) not in (b".\r\n", b".\n"):
        lines.append(line[1:] if line.startswith(b".") else line)
    return b"".join(lines)
