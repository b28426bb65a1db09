"""Delivering a message through the SES v2 API (`SendEmail` with raw content), as the
function's IAM role.

The message goes exactly as the composer sealed it (`Content.Raw.Data`): attachments,
templates and headers work as they do over SMTP. SES takes the envelope from the request, not
from the headers: `FromEmailAddress` is the envelope sender (the identity SES checks, and where
bounces go), and every envelope recipient is listed in `Destination`. For raw content SES
writes no header from `Destination`; the recipients go in `BccAddresses`, the list that by its
name never shows, so a Bcc recipient gets the message and appears nowhere in it. SES answers
with its message id, which the delivery carries (`provider_message_id`). The message's tags and
metadata go as `EmailTags` (`core.ses_message_tags`; composing has refused what SES cannot
carry), which SES repeats in the events it publishes about the message. SES accepts or refuses
a message as a whole: every recipient is accepted, or the send fails (`core.transport.ses.errors`).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from core.dkim.signing import MessageSigner
from core.ports import Clock, Transport
from core.ses_message_tags import tag_pairs
from core.transport.base import Deadline, Delivery, Envelope
from core.transport.report import ConnectionReport
from core.transport.ses.client import MIN_BUDGET_SECONDS, SesApi, budget_for, build_client, fits
from core.transport.ses.errors import SesTimeout, failure_of
from core.transport.ses.probe import SesProbeLog, probe_ses
from core.transport.ses.report import describe_ses


class SesTransport(Transport):
    """Sends through SES v2 in `region`, tagged with `configuration_set` when one is named.

    `open` builds the client (no request is made: SES needs no handshake of its own); `close`
    closes its connection. `send` on a transport not opened opens it for that one message.
    `probe` asks SES what a send would meet (the account, and `sender`'s identity: the
    service's default sender). With a `signer`, each message goes DKIM-signed with the
    service's own key (beside the signature SES adds for its own domain)."""

    def __init__(
        self,
        region: str,
        configuration_set: str | None = None,
        *,
        sender: str | None = None,
        endpoint_url: str | None = None,
        signer: MessageSigner | None = None,
    ) -> None:
        self.region = region
        self.signer = signer
        self.configuration_set = configuration_set
        self.sender = sender
        self._endpoint_url = endpoint_url
        self._client: SesApi | None = None
        self._budget = 0.0

    def open(self, deadline: Deadline) -> None:
        self._client_for(deadline)

    def send(self, message: bytes, envelope: Envelope, deadline: Deadline) -> Delivery:
        """Hand the message to SES, or raise an `SesFailure`."""
        if self._client is None:
            try:
                return self._send(message, envelope, deadline)
            finally:
                self.close()
        return self._send(message, envelope, deadline)

    def probe(self, deadline: Deadline, *, service: str, clock: Clock) -> ConnectionReport:
        """The `Probes` ability: the connection test's report for the service named `service`
        (SES's account, and the sender's identity); sends nothing."""
        return describe_ses(self.inspect(deadline), service=service)

    def inspect(self, deadline: Deadline) -> SesProbeLog:
        """What SES says of the account and the sender's identity, as the probe learnt it."""
        log = SesProbeLog(self.region, self.configuration_set)
        try:
            client = self._client_for(deadline)
        except SesTimeout as late:
            log.failure, log.failed_stage, log.ended = late, "account", log.started
            return log
        try:
            return probe_ses(client, log, self.sender, deadline)
        finally:
            self.close()

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    # --- internals ------------------------------------------------------------------------

    def _send(self, message: bytes, envelope: Envelope, deadline: Deadline) -> Delivery:
        client = self._client_for(deadline)
        request: dict[str, Any] = {
            "FromEmailAddress": envelope.sender,
            "Destination": {"BccAddresses": list(envelope.recipients)},
            "Content": {"Raw": {"Data": self._signed(message, envelope)}},
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        if tags := tag_pairs(envelope.tags, dict(envelope.metadata)):
            request["EmailTags"] = [{"Name": name, "Value": value} for name, value in tags]
        try:
            answer = client.send_email(**request)
        except (ClientError, BotoCoreError) as error:
            raise failure_of(error, configuration_set=self.configuration_set) from error
        message_id = str(answer["MessageId"])
        return Delivery(
            accepted=list(envelope.recipients),
            reply=f"SES accepted {message_id}",
            provider_message_id=message_id,
        )

    def _signed(self, message: bytes, envelope: Envelope) -> bytes:
        if self.signer is None:
            return message
        return self.signer.sign(message, sender=envelope.sender)

    def _client_for(self, deadline: Deadline) -> SesApi:
        """The kept client, or one built for this deadline (see `core.transport.ses.client`)."""
        remaining = deadline.remaining()
        if remaining < MIN_BUDGET_SECONDS:
            raise SesTimeout("No time was left to send through SES.")
        if self._client is None or not fits(self._budget, remaining):
            self.close()
            self._budget = budget_for(remaining)
            self._client = build_client(self.region, self._budget, endpoint_url=self._endpoint_url)
        return self._client
