"""The SMTP transport: sessions to one endpoint, one at a time, behind the `Transport` port."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import replace

from core.dkim.signing import MessageSigner
from core.network.destination import DestinationPolicy
from core.network.tls import client_context
from core.oauth2.errors import OAuth2TokenFailed
from core.ports import Clock, Transport
from core.settings import get_settings
from core.transport.base import Deadline, Delivery, Envelope, Outgoing
from core.transport.smtp.authentication import Login, password_login
from core.transport.smtp.classification import certificate_refused
from core.transport.smtp.endpoint import SmtpEndpoint
from core.transport.smtp.errors import SmtpFailure
from core.transport.smtp.probe import SmtpConnectionReport, describe
from core.transport.smtp.session import Session
from core.transport.smtp.session_log import SessionLog, TlsFacts


class SmtpTransport(Transport):
    """One endpoint, one TLS context, one connection at a time.

    `open` connects, secures and authenticates; each `send` is one transaction on that
    connection; `close` ends the session (RSET if a transaction was left open, then QUIT).
    A `send` without `open` is a session of its own: opened, one transaction, closed. A
    failed send closes the connection too: what state it is in is anybody's guess.
    `destinations` is what the SSRF guard allows; by default, what the settings say.
    With a `signer`, every message is DKIM-signed just before it goes (an announced one too:
    the signer gives the same bytes when it is sent).
    """

    def __init__(
        self,
        endpoint: SmtpEndpoint,
        *,
        tls: ssl.SSLContext,
        ehlo_name: str,
        login: Login | None = None,
        destinations: DestinationPolicy | None = None,
        signer: MessageSigner | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.signer = signer
        # How sessions authenticate: by default the endpoint's username and password.
        self._login = login if login is not None else password_login(endpoint)
        self._tls = tls
        self._ehlo_name = ehlo_name or "localhost"
        self._destinations = destinations or DestinationPolicy.from_settings(get_settings())
        self._session: Session | None = None
        self._following: Outgoing | None = None  # announced for the next send's end
        self._handover: Callable[[], None] | None = None  # run at the next send's handover

    def open(self, deadline: Deadline) -> None:
        """Connect, greet, secure and authenticate (once), or raise an `SmtpFailure`."""
        if self._session is not None:
            return
        session = Session(self.endpoint, self._tls, self._ehlo_name, deadline, self._login)
        try:
            session.open(self._destinations)
        except BaseException:
            session.finish()
            raise
        self._session = session

    def announce(self, following: Outgoing) -> None:
        """`AnnouncesNext`: `following` is what the send after the next one will carry.

        On an open session whose server takes PIPELINING (and not CHUNKING, where a send is
        one round trip already), its envelope and DATA go out right behind the next message's
        final dot, so its replies are on their way when it comes (one round trip a message,
        not two). A later `send` of anything else gets a new connection: the announced one
        never had a byte of its message written."""
        self._following = Outgoing(
            self._signed(following.message, following.envelope), following.envelope
        )

    def before_handover(self, hook: Callable[[], None]) -> None:
        """`PacesHandover`: `hook` runs in the next send once its envelope was accepted, just
        before the message's text (and its final dot) is written."""
        self._handover = hook

    def send(self, message: bytes, envelope: Envelope, deadline: Deadline) -> Delivery:
        """Hand `message` over in one transaction, or raise an `SmtpFailure` (see the table).

        A `Delivery` comes back only when the server took the message for at least one
        recipient; it lists those refused (5xx) and deferred (4xx) at RCPT, so a retry can go
        to the deferred ones alone. When no recipient is accepted no DATA is sent and the send
        raises, with the per-recipient replies in `context["refused"]` / `context["deferred"]`:
        `SmtpRejected` if every refusal was a 5xx, else `SmtpDeferred` (retrying them all is
        safe: nothing was sent, and the 5xx ones are refused again). So a synchronous caller
        always gets an error when nobody got the message, and a queue worker needs no
        "accepted nobody" case: it retries transient errors and settles the rest.
        What was `announce`d goes behind this message (see there).
        """
        message = self._signed(message, envelope)
        then, self._following = self._following, None
        handover, self._handover = self._handover, None
        kept, trips_before = self._session, self._session.round_trips if self._session else 0
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
                message, envelope, deadline, then=None if one_shot else then, handover=handover
            )
        except BaseException:
            self.close()
            raise
        # This send's share: all of a session opened for it, connecting and greeting included.
        trips = self._session.round_trips - (trips_before if self._session is kept else 0)
        if one_shot:
            self.close()
        return replace(delivery, round_trips=trips)

    def _signed(self, message: bytes, envelope: Envelope) -> bytes:
        if self.signer is None:
            return message
        return self.signer.sign(message, sender=envelope.sender)

    def close(self) -> None:
        """End the session, if one is open; never raises."""
        session, self._session = self._session, None
        if session is not None:
            session.finish()

    def probe(self, deadline: Deadline, *, service: str, clock: Clock) -> SmtpConnectionReport:
        """`Probes`: the report of `session_log_of_probe`, for the service named `service`."""
        log = self.session_log_of_probe(deadline)
        return describe(log, self.endpoint, service=service, now=clock.now())

    def session_log_of_probe(self, deadline: Deadline) -> SessionLog:
        """Open a session of its own as `open` does (connect, greet, secure, authenticate),
        send no mail, QUIT; what it learnt, with the `SmtpFailure` a send would have met in
        `failure`. A certificate that fails verification is then looked at over a second
        connection that checks nothing and stops after TLS (`unverified`), as
        `openssl s_client` would show it; nothing secret crosses that one."""
        session = Session(self.endpoint, self._tls, self._ehlo_name, deadline, self._login)
        try:
            session.open(self._destinations)
        except (SmtpFailure, OAuth2TokenFailed) as failure:
            session.log.failure = failure
        finally:
            session.log.ended = time.monotonic()
            session.finish()
        if certificate_refused(session.log.failure):
            session.log.unverified = self._unchecked_certificate(deadline)
        return session.log

    def _unchecked_certificate(self, deadline: Deadline) -> TlsFacts | None:
        session = Session(
            self.endpoint, client_context(False), self._ehlo_name, deadline, self._login
        )
        try:
            session.handshake(self._destinations)
        except SmtpFailure:
            pass  # whatever it saw before failing is in its log
        finally:
            session.finish()
        return session.log.tls
