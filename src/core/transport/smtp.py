"""Delivering a message over SMTP with smtplib, one stage at a time.

A session is: connect (to an address the destination guard checked, with implicit TLS for
'ssl'), greeting, EHLO, STARTTLS (required for 'tls', whenever offered for the empty default),
AUTH when the service has credentials (PLAIN first over TLS: one round trip), then one
transaction: MAIL FROM, RCPT TO per recipient, DATA. When EHLO offers PIPELINING (RFC 2920),
MAIL, the RCPTs and DATA are written at once and their replies read in order; with CHUNKING
(RFC 3030) the message goes as `BDAT <size> LAST` and its bytes as built, in that same write
when both are offered: one round trip for the whole transaction. QUIT is written and its reply
never awaited. The transaction is driven with smtplib's primitives rather than `sendmail()` so
that a failure is known by the stage it happened at, which decides whether trying again is safe:

| what happened                                            | raised             | transient |
| -------------------------------------------------------- | ------------------ | --------- |
| a 4xx reply at any stage (421, 450, 451, 452, 454, ...)  | SmtpDeferred       | yes       |
| a 5xx reply to the greeting (554)                        | SmtpConnectFailed  | no        |
| the host or port is refused by the destination guard     | SmtpConnectFailed  | no        |
| a reply that is no SMTP reply (an HTTP server, say)      | SmtpConnectFailed  | no        |
| a 5xx reply to STARTTLS; a TLS or certificate failure    | SmtpTlsError       | no        |
| no STARTTLS offered for 'tls', or for credentials        | SmtpTlsError       | no        |
| a 5xx reply to AUTH (535, ...); no AUTH offered          | SmtpAuthFailed     | no        |
| a 5xx reply to EHLO/HELO, MAIL, DATA or the final dot    | SmtpRejected       | no        |
| no recipient accepted, every refusal a 5xx               | SmtpRejected       | no        |
| no recipient accepted, at least one refusal a 4xx        | SmtpDeferred       | yes       |
| refused, reset or closed before the final dot is written | SmtpConnectFailed  | yes       |
| a reply over its bounds, out of turn, or not fitting its | SmtpConnectFailed  | yes       |
| command, before the final dot (`smtp_protocol_error`)    |                    |           |
| reset (RST) after the final dot was written              | SmtpConnectFailed  | yes       |
| no answer in time before the final dot is written        | SmtpTimeout        | yes       |
| closed (EOF) or no answer in time after the final dot    | SmtpOutcomeUnknown | no        |
| no 2xx, 4xx or 5xx reply to the final dot, or one over   | SmtpOutcomeUnknown | no        |
| its bounds                                               |                    |           |

With CHUNKING the message's last byte plays the final dot's part throughout: once written, the
outcome may be unknown (stage END_OF_DATA). Pipelined with MAIL and the RCPTs, it is written
before any of their replies is read, so a close (EOF), silence, or a reply that is no SMTP reply
while reading any of them leaves the outcome unknown, where the same fault without CHUNKING
comes before the dot and is safe to retry; a refusal of the sender (its RCPTs' and BDAT's 503s
read and dropped), a 421, or no recipient accepted still say for sure that nobody got it. So
that a connection the server gave up on while idle (a 421, or a close) is not taken for one
that may have the message, every transaction first looks, without waiting, for anything the
server said unread (see below); one that closes in the instant between that look and the write
is still held as unknown: held, never lost.

Every reply is read within bounds and within the stage's deadline (`core.transport.replies`:
a line of 2 KiB, a reply of 256 lines and 64 KiB, every read from the socket waiting no longer
than the time left), so a server streaming a reply without end, or a line at a time, costs no
more memory or time than that. And a kept connection is used only while it is in step: before
a transaction whose envelope was not announced, whatever the server said unread is read (no
round trip: only when something is there); a 421 or a close fails the transaction at MAIL, as
a server closing an idle connection does, and anything else (one reply too many after the last
message) is a protocol error. A reply that cannot answer its command (a 250 to DATA where a
354 is due, a 354 to MAIL or RCPT, a 250 greeting: of a class the command does not have) is
one too, not a refusal: it may be another command's. A protocol error drops the connection at
once; before the final dot it is transient (nothing was taken, and the delivery goes again on
a new connection: `core.delivery.deliver`), after it the outcome is unknown. No time left is a
timeout, as silence is.

A sender with more messages for the same server (the queue worker's batch) names the next one
(`then`). With PIPELINING and no CHUNKING, its MAIL, RCPTs and DATA are written right behind
this message's final dot (RFC 2920 lets a group begin with a message's text), so its replies
come right after this one's verdict and each message costs one round trip instead of two
(behind a message of up to 64 KiB: see `_ANNOUNCE_AFTER`).
Anything written after the dot takes away what a reset says (below): the server may have read
the dot, taken the message, and closed (or died) before answering, with the commands after it
unread, which makes its kernel reset. So once the next envelope is written, a reset before the
verdict leaves the outcome unknown, as a close does. The price: a server that aborts in the
middle of such a message, which would otherwise be sent again, holds it as unknown (or sends it
again only under `unknown_outcome: retry`). A server that answers and then resets is heard
(its 250 is read first), and the next message then finds the connection dead before its text.

"Written" means handed to our kernel: `sendall` returns once the final dot is in the socket's
send buffer, not once the server has read it. smtplib writes the whole message before reading
anything, so a server that gives up in the middle of a message (too big, a crash, a dropped
connection) while part of it is still in flight, or unread in its receive buffer, looks at
first like one that broke off after the dot. TCP tells the two apart. A socket closed while its
receive buffer still holds data the application never read is aborted by the kernel with an
RST instead of a FIN (RFC 1122 4.2.2.13; Linux, the BSDs and Windows all do it), and so is one
that gets data after the application closed it; a socket closed after reading everything sends
an orderly FIN. A server takes a message only once it has read the final dot, and we write
nothing after the dot until a reply comes (unless the next message was announced: see above),
so an RST (ECONNRESET; or EPIPE, when the server's FIN came first) means the server closed
before reading the whole message: it did not take it, and trying again is safe. A failure
while writing (`sendall` raising) is as clear: the dot never left. An orderly close (EOF) or
silence once the dot is written says nothing of the kind: the server may have the message, so
the outcome is unknown, and it is not resent unless the service asked for at-least-once
delivery (`unknown_outcome: retry`, honoured by the queue worker).

What stays ambiguous: an RST sent on purpose. A server that sets SO_LINGER to 0 aborts with an
RST even when it has read everything; so a server that took the message and then aborted
without answering would be sent it again, under either `unknown_outcome`. (One that answered
first is heard: Linux hands over what arrived before an RST, then reports the reset, as
measured on Linux 6; unless that 250 is lost on the way, or overtaken.) So would one behind a
TCP proxy or load balancer that resets the client's side on its own account. MTAs
close in an orderly way, so this takes a deliberate abort. The other way round, a server that
closes before the dot with nothing unread at that moment sends a FIN, and the RST only when our
next segment arrives; its close reads as an EOF whichever comes first, so that message is held
as unknown although it was never taken: held when it could have been resent, never lost.

A line with no SMTP reply code at all means the port is not an SMTP server's: that is reported
(reason `not_smtp_server`) without repeating what it said, which could be anything an internal
service answers. Errors carry `context["stage"]` (one of `Stage`) once the TCP connection
stands, and `smtp_code` when the server replied.

Every session keeps a `SessionLog` of what it learnt on the way (the address, the greeting, each
EHLO reply, the TLS it set up, the stages it passed and when). A send ignores it; `probe` (the
API's "test connection") runs the same steps, guard, TLS context and error classification as a
send, stops before MAIL FROM, and hands the log back with the failure a send would have met.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.errors import (
    SmtpAuthFailed,
    SmtpConnectFailed,
    SmtpDeferred,
    SmtpFailure,
    SmtpOutcomeUnknown,
    SmtpRejected,
    SmtpTimeout,
    SmtpTlsError,
)
from core.ports import Transport
from core.services.model import Encryption
from core.settings import get_settings
from core.transport.base import Deadline, Delivery, Envelope, Outgoing
from core.transport.destination import DestinationForbidden, DestinationPolicy, resolve
from core.transport.pipelining import (
    FlightClient,
    RecipientReplies,
    bdat_last,
    nothing_unread,
    write_envelope,
)
from core.transport.replies import ReplyTooLarge
from core.transport.tls import client_context

# The outcome is decided by the time we say goodbye: a slow RSET or QUIT must not hold the caller.
_GOODBYE_SECONDS = 1.0
# The next message is announced only behind a message up to this size: for a bigger one the
# round trip saved is a small share of its transfer, and a server giving up in the middle of it
# (which announcing turns from "send it again" into "unknown") is likelier.
_ANNOUNCE_AFTER = 64 * 1024


class Stage(StrEnum):
    """Where in the session a failure happened."""

    GREETING = "greeting"
    EHLO = "ehlo"
    STARTTLS = "starttls"
    AUTH = "auth"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"  # the DATA command, its 354, and the message until its final dot is read
    END_OF_DATA = "end_of_data"  # the final dot is written: waiting for the verdict


# A 5xx is SmtpRejected unless the stage says more precisely what went wrong.
_PERMANENT: dict[Stage, type[SmtpFailure]] = {
    Stage.GREETING: SmtpConnectFailed,
    Stage.STARTTLS: SmtpTlsError,
    Stage.AUTH: SmtpAuthFailed,
}
_WHAT: dict[Stage, str] = {
    Stage.GREETING: "the session",
    Stage.EHLO: "our EHLO",
    Stage.STARTTLS: "STARTTLS",
    Stage.AUTH: "our credentials",
    Stage.MAIL: "the sender",
    Stage.RCPT: "the recipients",
    Stage.DATA: "the message",
    Stage.END_OF_DATA: "the message",
}


@dataclass(frozen=True)
class SmtpEndpoint:
    """Where to deliver and how; the password is kept out of reprs and logs."""

    host: str
    port: int
    encryption: Encryption
    verify_tls: bool = True
    username: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Hello:
    """The server's answer to our EHLO (or HELO, for a server that knows no EHLO)."""

    command: str  # "EHLO" or "HELO"
    reply: str  # its lines' text, joined by newlines, without the codes
    features: dict[str, str]  # smtplib's `esmtp_features`: lower-case keyword -> parameters
    tls: bool  # whether it came over TLS


@dataclass(frozen=True)
class TlsFacts:
    """The TLS a session set up: `implicit` ('ssl') or by `starttls`."""

    mode: str
    version: str | None
    cipher: str | None
    certificate: bytes | None  # DER, as the server presented it (checked or not: see `tls`)


@dataclass
class SessionLog:
    """What a session learnt, stage by stage; recording it changes nothing in how a send goes.

    `marks` are the stages passed (`connect`, `tls` for implicit TLS, `greeting`, `ehlo`,
    `starttls`, `ehlo` again, `auth`), each with the `time.monotonic()` it ended at. A reply
    that is no SMTP reply is never kept (see `_not_smtp`).
    """

    started: float = field(default_factory=time.monotonic)
    marks: list[tuple[str, float]] = field(default_factory=list)
    address: str | None = None  # the checked address the TCP connection went to
    greeting: str | None = None
    hellos: list[Hello] = field(default_factory=list)
    tls: TlsFacts | None = None
    # Set by `probe`: when the session stopped, what stopped it, and the certificate that
    # failed verification as a second connection, checking nothing, saw it.
    ended: float | None = None
    failure: SmtpFailure | None = None
    unverified: TlsFacts | None = None

    def mark(self, stage: str) -> None:
        self.marks.append((stage, time.monotonic()))

    def connected(self, sock: socket.socket) -> None:
        self.address = str(sock.getpeername()[0])
        self.mark("connect")

    def greeted(self, code: int, reply: bytes) -> None:
        if _is_reply_code(code):
            self.greeting = _reply_text(code, reply)
        if code == 220:
            self.mark(Stage.GREETING)

    def secured(self, mode: str, sock: socket.socket | None) -> None:
        if not isinstance(sock, ssl.SSLSocket):
            return
        cipher = sock.cipher()
        self.tls = TlsFacts(
            mode=mode,
            version=sock.version(),
            cipher=cipher[0] if cipher else None,
            certificate=sock.getpeercert(binary_form=True),
        )
        self.mark("tls" if mode == "implicit" else Stage.STARTTLS)

    def hello(self, client: smtplib.SMTP) -> None:
        reply = client.ehlo_resp if client.does_esmtp else client.helo_resp
        self.hellos.append(
            Hello(
                command="EHLO" if client.does_esmtp else "HELO",
                reply=(reply or b"").decode("utf-8", "replace"),
                features=dict(client.esmtp_features),
                tls=isinstance(client.sock, ssl.SSLSocket),
            )
        )
        self.mark(Stage.EHLO)


class SmtpTransport(Transport):
    """One endpoint, one TLS context, one connection at a time.

    `open` connects, secures and authenticates; each `send` is one transaction on that
    connection; `close` ends the session (RSET if a transaction was left open, then QUIT).
    A `send` without `open` is a session of its own: opened, one transaction, closed. A
    failed send closes the connection too: what state it is in is anybody's guess.
    `destinations` is what the SSRF guard allows; by default, what the settings say.
    """

    def __init__(
        self,
        endpoint: SmtpEndpoint,
        *,
        tls: ssl.SSLContext,
        ehlo_name: str,
        destinations: DestinationPolicy | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._tls = tls
        self._ehlo_name = ehlo_name or "localhost"
        self._destinations = destinations or DestinationPolicy.from_settings(get_settings())
        self._session: _Session | None = None

    def open(self, deadline: Deadline) -> None:
        """Connect, greet, secure and authenticate (once), or raise an `SmtpFailure`."""
        if self._session is not None:
            return
        session = _Session(self.endpoint, self._tls, self._ehlo_name, deadline)
        try:
            session.open(self._destinations)
        except BaseException:
            session.finish()
            raise
        self._session = session

    def send(
        self,
        message: bytes,
        envelope: Envelope,
        deadline: Deadline,
        *,
        then: Outgoing | None = None,
    ) -> Delivery:
        """Hand `message` over in one transaction, or raise an `SmtpFailure` (see the table).

        A `Delivery` comes back only when the server took the message for at least one
        recipient; it lists those refused (5xx) and deferred (4xx) at RCPT, so a retry can go
        to the deferred ones alone. When no recipient is accepted no DATA is sent and the send
        raises, with the per-recipient replies in `context["refused"]` / `context["deferred"]`:
        `SmtpRejected` if every refusal was a 5xx, else `SmtpDeferred` (retrying them all is
        safe: nothing was sent, and the 5xx ones are refused again). So a synchronous caller
        always gets an error when nobody got the message, and a queue worker needs no
        "accepted nobody" case: it retries transient errors and settles the rest.

        `then`, on an open session whose server takes PIPELINING (and not CHUNKING, where a
        send is one round trip already), is the message the next `send` will carry: its
        envelope and DATA go out right behind this message's final dot, so its replies are on
        their way when it comes (one round trip a message, not two). A next `send` of anything
        else gets a new connection: the announced one never had a byte of its message written.
        """
        if self._session is not None and not self._session.expects(Outgoing(message, envelope)):
            # The last send announced another message, whose DATA may be answered with a 354
            # and wait for text that is not coming: only closing ends that without sending it.
            self.close()
            self.open(deadline)
        one_shot = self._session is None  # opened here, for this message alone
        self.open(deadline)
        assert self._session is not None  # open() either opened it or raised
        try:
            delivery = self._session.transact(
                message, envelope, deadline, then=None if one_shot else then
            )
        except BaseException:
            self.close()
            raise
        if one_shot:
            self.close()
        return delivery

    def close(self) -> None:
        """End the session, if one is open; never raises."""
        session, self._session = self._session, None
        if session is not None:
            session.finish()

    def probe(self, deadline: Deadline) -> SessionLog:
        """Open a session of its own as `open` does (connect, greet, secure, authenticate),
        send no mail, QUIT; what it learnt, with the `SmtpFailure` a send would have met in
        `failure`. A certificate that fails verification is then looked at over a second
        connection that checks nothing and stops after TLS (`unverified`), as
        `openssl s_client` would show it; nothing secret crosses that one."""
        session = _Session(self.endpoint, self._tls, self._ehlo_name, deadline)
        try:
            session.open(self._destinations)
        except SmtpFailure as failure:
            session.log.failure = failure
        finally:
            session.log.ended = time.monotonic()
            session.finish()
        if _certificate_refused(session.log.failure):
            session.log.unverified = self._unchecked_certificate(deadline)
        return session.log

    def _unchecked_certificate(self, deadline: Deadline) -> TlsFacts | None:
        session = _Session(self.endpoint, client_context(False), self._ehlo_name, deadline)
        try:
            session.handshake(self._destinations)
        except SmtpFailure:
            pass  # whatever it saw before failing is in its log
        finally:
            session.finish()
        return session.log.tls


class _PinnedSMTP(FlightClient):
    """smtplib's client, connecting to addresses checked beforehand instead of looking the
    name up again; the name stays `host`, so STARTTLS verifies the certificate against it."""

    def __init__(
        self,
        host: str,
        port: int,
        addresses: Sequence[str],
        *,
        local_hostname: str,
        timeout: float,
        deadline: Deadline,
        log: SessionLog,
    ) -> None:
        self.addresses = addresses
        self.deadline = deadline  # bounds the greeting already
        # The session's, not ours: it outlives a constructor that raises (a refused greeting).
        self.session_log = log
        super().__init__(host, port, local_hostname, timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = _connect_first(self.addresses, port, timeout)
        self.session_log.connected(sock)
        return sock

    def connect(
        self, host: str = "localhost", port: int = 0, source_address: Any = None
    ) -> tuple[int, bytes]:
        code, reply = super().connect(host, port, source_address)
        self.session_log.greeted(code, reply)
        return code, reply


class _PinnedSMTPSSL(smtplib.SMTP_SSL, _PinnedSMTP):
    """Implicit TLS on a checked address: SMTP_SSL's `_get_socket` wraps the socket that
    `_PinnedSMTP._get_socket` (next in the MRO) opens, verifying the certificate for `host`."""

    def __init__(
        self,
        host: str,
        port: int,
        addresses: Sequence[str],
        *,
        local_hostname: str,
        timeout: float,
        deadline: Deadline,
        context: ssl.SSLContext,
        log: SessionLog,
    ) -> None:
        self.addresses = addresses
        self.deadline = deadline
        self.session_log = log
        smtplib.SMTP_SSL.__init__(
            self, host, port, local_hostname, timeout=timeout, context=context
        )

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = super()._get_socket(host, port, timeout)  # TCP, then the TLS handshake
        self.session_log.secured("implicit", sock)
        return sock


def _connect_first(addresses: Sequence[str], port: int, timeout: float) -> socket.socket:
    """A TCP connection to the first of `addresses` that answers (as `create_connection` tries
    each address a name resolves to); each is an IP literal, so nothing is looked up here."""
    failure: OSError = OSError("the SMTP host resolved to no address")
    for address in addresses:
        try:
            sock = socket.create_connection((address, port), timeout)
        except OSError as error:
            failure = error
            continue
        # Each write goes out at once, not held back for the last one's acknowledgement
        # (Nagle's algorithm): a pipelined group written in two parts (a message, then the
        # next one's envelope) must reach the server together, not a round trip apart.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise failure


class _Session:
    """One connection, and the stage it has reached: what a failure means depends on it."""

    def __init__(
        self, endpoint: SmtpEndpoint, tls: ssl.SSLContext, ehlo_name: str, deadline: Deadline
    ) -> None:
        self._endpoint = endpoint
        self._tls = tls
        self._ehlo_name = ehlo_name
        self._deadline = deadline
        self._client: _PinnedSMTP | None = None
        self._stage: Stage | None = None  # None while connecting (TCP, and TLS for 'ssl')
        self._in_transaction = False  # MAIL sent and no verdict yet: RSET before QUIT
        # The next message, whose MAIL, RCPTs and DATA were written behind the last one's dot
        # and whose replies are not read yet (see `_announce`). While a verdict is awaited, it
        # also says something was written after that message's dot: a reset then no longer
        # says the server did not take it.
        self._announced: Outgoing | None = None
        self.log = SessionLog()

    def open(self, destinations: DestinationPolicy) -> None:
        """Connect, greet, secure and authenticate: a session ready for transactions."""
        with self._as_api_errors():
            client = self._connect(destinations)
            self._hello(client)
            self._secure(client)
            self._authenticate(client)

    def handshake(self, destinations: DestinationPolicy) -> None:
        """Connect, greet and secure, no further: enough to see the server's certificate."""
        with self._as_api_errors():
            client = self._connect(destinations)
            self._hello(client)
            self._secure(client)

    def transact(
        self, message: bytes, envelope: Envelope, deadline: Deadline, *, then: Outgoing | None
    ) -> Delivery:
        """One MAIL, RCPT..., DATA transaction on the open session, within `deadline`; `then`
        is announced behind it when the server takes that (see `_announce`)."""
        assert self._client is not None  # open() succeeded
        self._deadline = self._client.deadline = deadline
        with self._as_api_errors():
            return self._transaction(self._client, message, envelope, then)

    def expects(self, outgoing: Outgoing) -> bool:
        """Whether `outgoing` may be the session's next transaction: nothing else was announced."""
        return self._announced is None or self._announced == outgoing

    # --- the steps of a session -----------------------------------------------------------

    def _connect(self, destinations: DestinationPolicy) -> _PinnedSMTP:
        host, port = self._endpoint.host, self._endpoint.port
        try:
            # Checked again here, after DNS, whatever was checked when the service was saved:
            # the name may resolve elsewhere now, or the operator may have narrowed the policy.
            addresses = resolve(host, port, destinations)
        except DestinationForbidden as error:
            raise SmtpConnectFailed(
                error.message,
                reason="destination_forbidden",
                context=self._context(),
                transient=False,
            ) from None
        timeout = self._remaining()
        try:
            if self._endpoint.encryption is Encryption.SSL:
                self._client = _PinnedSMTPSSL(
                    host,
                    port,
                    addresses,
                    local_hostname=self._ehlo_name,
                    timeout=timeout,
                    deadline=self._deadline,
                    context=self._tls,
                    log=self.log,
                )
            else:
                self._client = _PinnedSMTP(
                    host,
                    port,
                    addresses,
                    local_hostname=self._ehlo_name,
                    timeout=timeout,
                    deadline=self._deadline,
                    log=self.log,
                )
        except (smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected, ReplyTooLarge):
            # smtplib's own errors, so the connection stood (TLS too): the greeting failed.
            self._stage = Stage.GREETING
            raise
        self._stage = Stage.GREETING
        return self._client

    def _hello(self, client: smtplib.SMTP) -> None:
        """EHLO; HELO only for a server that does not know EHLO (a 5xx to it, never a 4xx)."""
        self._stage = Stage.EHLO
        self._bound(client)
        code, reply = client.ehlo()
        if 500 <= code <= 599:
            self._bound(client)
            code, reply = client.helo()
        if not 200 <= code <= 299:
            raise self._refusal(code, reply)
        self.log.hello(client)

    def _secure(self, client: smtplib.SMTP) -> None:
        """STARTTLS: required for 'tls', whenever offered for the empty (opportunistic) default.

        Opportunistic goes on in plain text without STARTTLS only when there is nothing secret
        to send; credentials cross a plain connection only when 'none' was chosen explicitly.
        (A man in the middle can strip STARTTLS from the EHLO reply: that is what these
        refusals stop.) Once STARTTLS is answered, smtplib drops whatever it had read beyond
        the 220 (`file = None`) and forgets the EHLO reply, as RFC 3207 asks: nothing injected
        in clear text before the handshake is ever read as a reply after it.
        """
        encryption = self._endpoint.encryption
        if encryption not in (Encryption.TLS, Encryption.OPPORTUNISTIC):
            return
        if not client.has_extn("starttls"):
            if encryption is Encryption.TLS:
                # Going on would put the credentials and the message on the wire in clear text.
                raise SmtpTlsError(
                    "The SMTP server does not offer STARTTLS; refusing to continue without TLS"
                    " (use encryption 'ssl' for port 465, or 'none' only on a trusted network).",
                    context=self._context(),
                )
            if self._endpoint.username or self._endpoint.password:
                raise SmtpTlsError(
                    "The SMTP server does not offer STARTTLS, and the service's credentials are"
                    " never sent in clear text unless its encryption is explicitly 'none'. Use"
                    " 'ssl' if the server takes implicit TLS (port 465), have STARTTLS enabled"
                    " on it, or set encryption 'none' only on a trusted network.",
                    context=self._context(),
                )
            return
        self._stage = Stage.STARTTLS
        self._bound(client)
        client.starttls(context=self._tls)
        self.log.secured("starttls", client.sock)
        self._hello(client)

    def _authenticate(self, client: smtplib.SMTP) -> None:
        if not self._endpoint.username:
            return
        if not client.has_extn("auth"):
            raise SmtpAuthFailed(
                "The SMTP server does not offer AUTH, but the service has credentials.",
                context=self._context(),
            )
        self._stage = Stage.AUTH
        self._bound(client)
        _log_in(
            client,
            self._endpoint.username,
            self._endpoint.password or "",
            tls=isinstance(client.sock, ssl.SSLSocket),
        )
        self.log.mark(Stage.AUTH)

    def _transaction(
        self, client: _PinnedSMTP, message: bytes, envelope: Envelope, then: Outgoing | None
    ) -> Delivery:
        """MAIL, RCPT..., then the message, in as few round trips as the server allows:

        - PIPELINING and CHUNKING: MAIL, RCPTs, `BDAT <size> LAST` and the message in one
          write, then their replies (`_in_one_flight`): one round trip;
        - PIPELINING: MAIL, RCPTs and DATA in one write, their replies, then the message after
          the 354: two round trips; one, when the envelope went with the last message's dot
          (announced), and this message's dot takes the next one's envelope along (`then`);
        - CHUNKING alone: MAIL and each RCPT in turn, then BDAT and the message in one write;
        - neither: each command in turn, as RFC 5321 has it.
        """
        self._stage = Stage.MAIL
        self._in_transaction = True
        announced, self._announced = self._announced, None
        if announced is None:
            self._in_step(client)
        options = _mail_options(client, message)
        pipelining, chunking = client.has_extn("pipelining"), client.has_extn("chunking")
        if announced is None and pipelining and chunking:
            return self._in_one_flight(client, message, envelope, options)

        if announced is not None:
            # MAIL, the RCPTs and DATA went with the last message; their replies are on the way.
            recipients = self._envelope_replies(client, envelope, owed=1)
        elif pipelining:
            self._bound(client)
            with client.flight():
                write_envelope(client, envelope, options)
                if not chunking:
                    client.putcmd("data")
            recipients = self._envelope_replies(client, envelope, owed=0 if chunking else 1)
        else:
            recipients = self._envelope_in_turn(client, envelope, options)
        if not recipients.accepted:
            if pipelining and not chunking:
                self._discard(client, 1)  # DATA's reply: an error, with nobody to send to
            raise self._nobody_accepted(recipients)

        self._stage = Stage.DATA
        if chunking:
            self._bound(client)
            client.send(bdat_last(message))
        else:
            if not pipelining:
                self._bound(client)
                client.putcmd("data")
            self._bound(client)
            code, reply = client.getreply()
            if code != 354:
                raise self._refusal(code, reply)
            self._bound(client)
            # Raising here (a reset, a closed or a full socket) leaves the stage at DATA: the
            # dot never left, so the server cannot have the message.
            client.send(_data_section(message))
        self._stage = Stage.END_OF_DATA
        if then is not None and pipelining and not chunking and len(message) <= _ANNOUNCE_AFTER:
            self._announce(client, then)
        return self._delivered(client, recipients)

    def _in_step(self, client: _PinnedSMTP) -> None:
        """Before a transaction (none announced), the server must have nothing unread to say:
        every reply would otherwise be taken for the next command's. Looked at without waiting
        (no round trip). What it said is read: a 421 or a close is a server giving up on an
        idle connection; anything else answers no command of ours (one reply too many after
        the last message): a protocol error. Either way before a byte of this message left."""
        if nothing_unread(client):
            return
        code, reply = self._reply(client, handed_over=False)
        if code == 421 or not _is_reply_code(code):
            raise self._refusal(code, reply)
        raise self._protocol_error(f"a {code} reply to no command, before the transaction")

    def _announce(self, client: _PinnedSMTP, then: Outgoing) -> None:
        """Write the next message's MAIL, RCPTs and DATA right behind this one's final dot,
        before its verdict is read: RFC 2920 lets a group begin with a message's text, and the
        server answers this message first, then them. The next `send` finds their replies on
        the way. It is a write of its own, after the one that ends with the dot (the socket
        sends each at once: TCP_NODELAY), so a failure to write the dot still means it never
        left. From here on a reset says nothing of this message: the server may have taken it
        and then reset on what came after, so its outcome is unknown (`_announced` is set)."""
        try:
            self._bound(client)
            with client.flight():
                write_envelope(client, then.envelope, _mail_options(client, then.message))
                client.putcmd("data")
        except (SmtpFailure, smtplib.SMTPServerDisconnected, OSError) as error:
            # No time left, or smtplib closed the socket: no verdict will be read, and the dot
            # was written.
            detail = f"nothing more could be written after the final dot: {error}"
            raise self._unknown(detail) from error
        self._announced = then

    def _in_one_flight(
        self, client: _PinnedSMTP, message: bytes, envelope: Envelope, options: list[str]
    ) -> Delivery:
        """The whole transaction in one write: MAIL, RCPTs, `BDAT <size> LAST` and the message.

        Once that write is done the message's last byte is written, so from then on a lost
        connection or silence leaves the outcome unknown, whichever reply was awaited (see
        `_handed_over_reply`); a refusal of the sender or of every recipient still says for
        sure that nobody gets it. Done only once nothing waits unread on the connection
        (`_in_step`): a server that closed it, or said 421, while it sat idle shows at MAIL
        (when it is safe to try again) rather than once the message is written.
        """
        self._stage = Stage.DATA  # a failure while writing is one before the last byte left
        self._bound(client)
        with client.flight():
            write_envelope(client, envelope, options)
            client.send(bdat_last(message))
        recipients = self._envelope_replies(client, envelope, owed=1, handed_over=True)
        if not recipients.accepted:
            self._discard(client, 1)  # BDAT's reply: the server read the chunk, and dropped it
            raise self._nobody_accepted(recipients)
        self._stage = Stage.END_OF_DATA
        return self._delivered(client, recipients)

    def _envelope_in_turn(
        self, client: _PinnedSMTP, envelope: Envelope, options: list[str]
    ) -> RecipientReplies:
        """MAIL, then each RCPT, each waiting for its reply."""
        self._bound(client)
        code, reply = client.mail(envelope.sender, options)
        if not 200 <= code <= 299:
            raise self._refusal(code, reply)
        self._stage = Stage.RCPT
        recipients = RecipientReplies()
        for rcpt in envelope.recipients:
            self._bound(client)
            code, reply = client.rcpt(rcpt)
            self._recipient(recipients, rcpt, code, reply)
        return recipients

    def _envelope_replies(
        self, client: _PinnedSMTP, envelope: Envelope, *, owed: int, handed_over: bool = False
    ) -> RecipientReplies:
        """The replies to MAIL and to each RCPT, written together, read in order. `owed`
        more replies follow in the same group (DATA's or BDAT's). A refused sender makes the
        RCPT replies and the rest refusals too (503, "need MAIL"): read, dropped, and MAIL's
        refusal reported."""
        self._stage = Stage.MAIL
        code, reply = self._reply(client, handed_over)
        if not 200 <= code <= 299:
            refusal = self._refusal(code, reply)  # a 421 closes the connection: nothing follows
            self._discard(client, len(envelope.recipients) + owed)
            raise refusal
        self._stage = Stage.RCPT
        recipients = RecipientReplies()
        for rcpt in envelope.recipients:
            code, reply = self._reply(client, handed_over)
            self._recipient(recipients, rcpt, code, reply)
        return recipients

    def _recipient(self, recipients: RecipientReplies, rcpt: str, code: int, reply: bytes) -> None:
        if code == 421 or code // 100 not in (2, 4, 5):
            # The server is closing, is no SMTP server, or answers another command (a 354):
            # no one gets it now.
            raise self._refusal(code, reply)
        recipients.record(rcpt, code, _reply_text(code, reply))

    def _delivered(self, client: _PinnedSMTP, recipients: RecipientReplies) -> Delivery:
        code, reply = self._verdict(client)
        self._in_transaction = False
        if not 200 <= code <= 299:
            raise self._refusal(code, reply)
        return Delivery(
            accepted=recipients.accepted,
            refused=recipients.refused,
            deferred=recipients.deferred,
            reply=_reply_text(code, reply),
        )

    def _reply(self, client: _PinnedSMTP, handed_over: bool) -> tuple[int, bytes]:
        """The next reply. Once the message is written (`handed_over`), one that is no SMTP
        reply, or of no class a reply can have (2xx, 4xx, 5xx), leaves its outcome unknown
        whatever command it answers: the server may be taking the message all the same."""
        if not handed_over:
            self._bound(client)
            return client.getreply()
        code, reply = self._handed_over_reply(client)
        if not _is_reply_code(code):
            raise self._unknown("a reply that is no SMTP reply")
        if code // 100 not in (2, 4, 5):
            raise self._unknown(f"unexpected reply {_reply_text(code, reply)!r}")
        return code, reply

    def _discard(self, client: _PinnedSMTP, count: int) -> None:
        """Read and drop the `count` replies still to come of a group whose outcome is
        decided, so that the goodbye is not taken for part of it. Whatever keeps it from
        going on (a 421, a 354 to a DATA we will not follow with a message, a failure or no
        time left) ends the connection instead."""
        try:
            for _ in range(count):
                if client.sock is None:
                    return
                self._bound(client)
                code, _ = client.getreply()
                if code in (354, 421) or not _is_reply_code(code):
                    client.close()
        except (SmtpFailure, smtplib.SMTPException, OSError):
            client.close()

    def _verdict(self, client: _PinnedSMTP) -> tuple[int, bytes]:
        """The reply to the final dot (or to `BDAT ... LAST`). From the moment the message's
        last byte is written the server may have it, so nothing short of a 2xx, 4xx or 5xx
        tells us whether it will go out, and a resend could deliver it twice; except a reset,
        which says the server never read it all (see the module's docstring)."""
        return self._reply(client, handed_over=True)

    def _handed_over_reply(self, client: _PinnedSMTP) -> tuple[int, bytes]:
        """A reply read once the message's last byte is written: a reset is a connection the
        server broke before reading it all (safe to try again); an orderly close, silence or
        no time left, an unknown outcome."""
        try:
            self._bound(client)
            return client.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            if _reset_by_peer(error) and self._announced is None:
                self._stage = Stage.DATA
                raise SmtpConnectFailed(
                    "The SMTP server reset the connection before reading the whole message"
                    f" ({_socket_cause(error)}); it did not take it, so trying again is safe.",
                    context=self._context(),
                ) from error
            self._stage = Stage.END_OF_DATA
            raise self._unknown(str(error)) from error
        except (SmtpFailure, smtplib.SMTPException) as error:
            self._stage = Stage.END_OF_DATA
            raise self._unknown(str(error)) from error

    def finish(self) -> None:
        """Say goodbye and close, within what the deadline leaves; never raises: the outcome
        is decided, and a slow or vanished server just gets closed.

        QUIT is written and not waited for: its reply would change nothing. A transaction left
        open is reset first (RSET), in the same write when the server takes pipelined commands
        (RFC 2920 lets QUIT end a group), else waiting for RSET's reply as RFC 5321 wants.
        """
        client = self._client
        if client is None:
            return
        if self._announced is not None:
            # A DATA is out whose 354 waits for text: whatever we wrote now would be taken for
            # the message. Closing without a final dot leaves it unsent.
            client.close()
            return
        try:
            wait = min(self._deadline.remaining(), _GOODBYE_SECONDS)
            if client.sock is None or wait <= 0:
                return
            client.deadline = Deadline.after(wait)
            client.sock.settimeout(wait)
            goodbye = "QUIT\r\n"
            if self._in_transaction:
                if client.has_extn("pipelining"):
                    goodbye = "RSET\r\n" + goodbye
                else:
                    client.rset()
            client.send(goodbye)
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            client.close()

    # --- time -----------------------------------------------------------------------------

    def _remaining(self) -> float:
        remaining = self._deadline.remaining()
        if remaining <= 0:
            raise SmtpTimeout(
                "The time budget for this send ran out before the SMTP server answered.",
                context=self._context(),
            )
        return remaining

    def _bound(self, client: smtplib.SMTP) -> None:
        """smtplib takes one timeout per socket operation; shrink it to what the deadline leaves."""
        remaining = self._remaining()
        if client.sock is not None:
            client.sock.settimeout(remaining)

    # --- failures -------------------------------------------------------------------------

    def _context(self, **extra: Any) -> dict[str, Any]:
        context: dict[str, Any] = {"host": self._endpoint.host, "port": self._endpoint.port}
        if self._stage is not None:
            context["stage"] = self._stage.value
        return {**context, **extra}

    def _refusal(self, code: int, text: bytes | str) -> SmtpFailure:
        """The error for a reply other than the one wanted, by its class and the stage."""
        stage = self._stage or Stage.GREETING
        if not _is_reply_code(code):
            return self._not_smtp()
        if code // 100 not in (4, 5):
            # A 2xx or 3xx that is not the one wanted (a 250 where DATA's 354 is due, a 354 to
            # MAIL): no answer to this command, but maybe another's.
            return self._protocol_error(f"a {code} reply, of a class its command cannot have")
        reply = _reply_text(code, text)
        context = self._context(smtp_code=code)
        if code == 421 and self._client is not None:
            self._client.close()  # 421: the server is closing the channel; no RSET, no QUIT
        if 400 <= code <= 499:
            return SmtpDeferred(
                f"The SMTP server turned {_WHAT[stage]} away for now: {reply}", context=context
            )
        error = _PERMANENT.get(stage, SmtpRejected)
        # Explicitly: a refused greeting is an SmtpConnectFailed, which is transient by default.
        return error(
            f"The SMTP server refused {_WHAT[stage]}: {reply}", context=context, transient=False
        )

    def _protocol_error(self, detail: str) -> SmtpFailure:
        """A reply that breaks the protocol: over a bound, out of turn, or of a class that
        cannot answer the command. The connection is out of step and is dropped at once (what
        it says next may be any command's reply); before the final dot nothing was taken, so
        the message may go again, on another connection."""
        if self._client is not None:
            self._client.close()
        return SmtpConnectFailed(
            f"The SMTP server broke the protocol at {self._stage or Stage.GREETING}: {detail}."
            " The connection was dropped.",
            reason="smtp_protocol_error",
            context=self._context(),
            transient=True,
        )

    def _not_smtp(self) -> SmtpFailure:
        # What it said is not repeated: it may be an internal service's banner or data.
        return SmtpConnectFailed(
            f"The server at {self._endpoint.host}:{self._endpoint.port} is not an SMTP server:"
            " its reply had no SMTP reply code. Check the service's host and port.",
            reason="not_smtp_server",
            context=self._context(),
            transient=False,
        )

    def _nobody_accepted(self, recipients: RecipientReplies) -> SmtpFailure:
        refused, deferred = recipients.refused, recipients.deferred
        replies = {"refused": refused} if refused else {}
        if deferred:
            return SmtpDeferred(
                "The SMTP server accepted no recipient and asked to try again later: "
                + next(iter(deferred.values())),
                context=self._context(**replies, deferred=deferred),
            )
        return SmtpRejected(
            "The SMTP server refused every recipient: " + next(iter(refused.values())),
            context=self._context(**replies),
        )

    def _unknown(self, detail: str) -> SmtpOutcomeUnknown:
        self._stage = Stage.END_OF_DATA
        return SmtpOutcomeUnknown(
            "The message was handed over but the SMTP server never confirmed it"
            f" ({detail}); it may or may not be delivered.",
            context=self._context(),
        )

    @contextmanager
    def _as_api_errors(self) -> Iterator[None]:
        """Map what smtplib and the socket layer raise onto the API's error taxonomy."""
        try:
            yield
        except SmtpFailure:
            raise
        except ReplyTooLarge as error:
            raise self._protocol_error(str(error)) from error
        except smtplib.SMTPResponseException as error:
            # A refusal smtplib checked itself: STARTTLS, AUTH.
            raise self._refusal(error.smtp_code, error.smtp_error) from error
        except ssl.SSLError as error:  # a certificate failure is one too
            raise SmtpTlsError(
                f"TLS with the SMTP server failed: {error}", context=self._context()
            ) from error
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            # smtplib turns a socket error into "disconnected"; the cause tells which.
            cause = _socket_cause(error)
            if isinstance(cause, TimeoutError):
                waiting = (
                    "stopped reading the message before its final dot"
                    if self._stage is Stage.DATA
                    else "did not answer in time"
                )
                raise SmtpTimeout(f"The SMTP server {waiting}.", context=self._context()) from error
            if self._stage is None:
                failed = "Could not connect to the SMTP server"
            elif self._stage is Stage.DATA:
                failed = "Lost the connection to the SMTP server before the message's final dot"
            else:
                failed = f"Lost the connection to the SMTP server at {self._stage}"
            raise SmtpConnectFailed(f"{failed}: {cause}", context=self._context()) from error
        except smtplib.SMTPException as error:
            # smtplib gave up without a reply (no AUTH mechanism in common, say).
            stage = self._stage or Stage.GREETING
            raise _PERMANENT.get(stage, SmtpRejected)(
                f"SMTP failed at {stage}: {error}", context=self._context(), transient=False
            ) from error


# The mechanisms smtplib speaks, in the order tried (each failing one with a 535 passes on to
# the next, as smtplib's `login()` does). PLAIN sends the credentials with the command itself
# (RFC 4954's initial response): one round trip, where CRAM-MD5 and LOGIN take two. In clear
# text (encryption 'none', chosen explicitly) CRAM-MD5 goes first, as `login()` orders them:
# it never puts the password itself on the wire.
_MECHANISMS_OVER_TLS = ("PLAIN", "CRAM-MD5", "LOGIN")
_MECHANISMS_IN_CLEAR = ("CRAM-MD5", "PLAIN", "LOGIN")


def _log_in(client: smtplib.SMTP, username: str, password: str, *, tls: bool) -> None:
    """AUTH with the first mechanism both sides know that takes the credentials, or raise
    smtplib's `SMTPAuthenticationError` (the last refusal) or `SMTPException` (none in common)."""
    advertised = client.esmtp_features["auth"].upper().split()
    order = _MECHANISMS_OVER_TLS if tls else _MECHANISMS_IN_CLEAR
    mechanisms = [mechanism for mechanism in order if mechanism in advertised]
    if not mechanisms:
        raise smtplib.SMTPException("No suitable authentication method found.")
    client.user, client.password = username, password
    refusal: smtplib.SMTPAuthenticationError | None = None
    for mechanism in mechanisms:
        respond = getattr(client, "auth_" + mechanism.lower().replace("-", "_"))
        try:
            client.auth(mechanism, respond)  # returns on 235 (or 503, already authenticated)
        except smtplib.SMTPAuthenticationError as error:
            refusal = error
        else:
            return
    assert refusal is not None  # every mechanism tried, each refused
    raise refusal


def _certificate_refused(failure: SmtpFailure | None) -> bool:
    """Whether TLS failed because the server's certificate did not verify."""
    return isinstance(failure, SmtpTlsError) and isinstance(
        failure.__cause__, ssl.SSLCertVerificationError
    )


def _mail_options(client: smtplib.SMTP, message: bytes) -> list[str]:
    """MAIL FROM's parameters: the message's size, for a server that takes SIZE (RFC 1870)."""
    return [f"SIZE={len(message)}"] if client.has_extn("size") else []


def _data_section(message: bytes) -> bytes:
    """The message as smtplib's `data()` writes it: leading dots doubled, then CRLF.CRLF."""
    stuffed = re.sub(rb"(?m)^\.", b"..", message)
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"


def _socket_cause(error: BaseException) -> BaseException:
    """The socket's own error behind smtplib's `SMTPServerDisconnected`, which wraps it (as
    the exception being handled) when a read or write fails; `error` itself otherwise."""
    if isinstance(error, smtplib.SMTPServerDisconnected) and isinstance(error.__context__, OSError):
        return error.__context__
    return error


def _reset_by_peer(error: BaseException) -> bool:
    """Whether the peer aborted the connection with an RST: ECONNRESET, or EPIPE once its FIN
    had come first. An EOF, a timeout or a TLS error without either is no reset."""
    return isinstance(_socket_cause(error), ConnectionResetError | BrokenPipeError)


def _is_reply_code(code: int) -> bool:
    """Whether smtplib read an SMTP reply code: three digits, 2 to 5 first. smtplib gives -1
    for a line not starting with a number; a code outside 200-599 is no SMTP reply either."""
    return 200 <= code <= 599


def _reply_text(code: int, text: bytes | str) -> str:
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {decoded}".strip()
