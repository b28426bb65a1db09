"""Opening an SMTP session: connect (to an address the destination guard checked, with implicit
TLS for 'ssl'), the greeting, EHLO (HELO for a server that knows no EHLO), STARTTLS and AUTH.

Which encryption asks for what (STARTTLS required, taken when offered, or never), and when
credentials may cross a connection in clear text: `Opening._secure`. What fails how at each of
these stages: the table in `core.transport.smtp.session`.
"""

from __future__ import annotations

import smtplib
import ssl

from core.network.destination import DestinationForbidden, DestinationPolicy, resolve
from core.services.smtp_options import Encryption
from core.transport.smtp.authentication import FetchesToken
from core.transport.smtp.connection import PinnedSMTP, PinnedSMTPSSL
from core.transport.smtp.conversation import Conversation
from core.transport.smtp.errors import SmtpAuthFailed, SmtpConnectFailed, SmtpTlsError
from core.transport.smtp.replies import ReplyTooLarge
from core.transport.smtp.stages import Stage


class Opening(Conversation):
    """The steps that make a connection ready for transactions: connect, greet, secure and
    authenticate, each setting the stage a failure is told by."""

    def _connect(self, destinations: DestinationPolicy) -> PinnedSMTP:
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
                self._client = PinnedSMTPSSL(
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
                self._client = PinnedSMTP(
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
            if self._login is not None and self._login.needs_tls:
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
        if self._login is None:
            return
        if not client.has_extn("auth"):
            raise SmtpAuthFailed(
                "The SMTP server does not offer AUTH, but the service has credentials.",
                context=self._context(),
            )
        if isinstance(self._login, FetchesToken):
            self._stage = Stage.OAUTH2_TOKEN
            self._login.fetch_token(self._deadline)  # its failures are OAuth2's, not SMTP's
            self.log.mark(Stage.OAUTH2_TOKEN)
        self._stage = Stage.AUTH
        self._bound(client)
        self._login.authenticate(client, tls=isinstance(client.sock, ssl.SSLSocket))
        self.log.mark(Stage.AUTH)
