"""What SES would publish after the simulator took a message: its events, posted to the stack's
own `/_local/ses-events` (the SES events function behind it), so the whole path after a send
runs locally: recipient states, suppression, webhooks, the day's numbers.

Once a message with provider id `<id>` is kept (by the SMTP capture server, whose `queued as
<id>` the API records, or by moto's SES, whose MessageId it records):

- `success@simulator.example.com`: a Delivery;
- `complaint@simulator.example.com`: a Delivery, then a Complaint (the address is suppressed);
- `bounce@simulator.example.com`: a permanent Bounce (the address is suppressed). Only a service of
  type `ses` gets here: the SMTP server refuses bounce@ at RCPT (`550 5.1.1`), which settles
  the message `failed` at once, and SES publishes nothing about a message it never took.

An event is posted from a thread of its own right after the message is kept, and again every
half second while the API answers `unknown_message`: the sender records the provider's id only
once the server's answer reaches it, a moment after the message was kept.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from local_stack.smtp.capture import Received
from local_stack.smtp.simulator import Mailbox, simulated

SES_EVENTS_PATH = "/_local/ses-events"
RETRY_SECONDS = 0.5
GIVE_UP_SECONDS = 30.0


class SimulatorEvents:
    """Posts the events of simulator recipients to the API at `api_url`, until `stop`."""

    def __init__(self, api_url: str) -> None:
        self._url = f"{api_url}{SES_EVENTS_PATH}"
        self._stopping = threading.Event()

    def after_kept(self, message: Received, provider_message_id: str) -> None:
        """Called once `message` is kept: post what SES would publish about its recipients."""
        events = events_for(message, provider_message_id)
        if events:
            threading.Thread(
                target=self._post_all, args=(events,), name="simulator-events", daemon=True
            ).start()

    def stop(self) -> None:
        self._stopping.set()

    def _post_all(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self._post(event)

    def _post(self, event: dict[str, Any]) -> None:
        tries = int(GIVE_UP_SECONDS / RETRY_SECONDS)
        outcome = "not posted"
        for _ in range(tries):
            outcome = self._post_once(event)
            if outcome not in ("unknown_message", "unreachable"):
                return
            if self._stopping.wait(RETRY_SECONDS):
                return
        print(
            f"simulator: {event['eventType']} for {event['mail']['messageId']} not applied"
            f" ({outcome})",
            flush=True,
        )

    def _post_once(self, event: dict[str, Any]) -> str:
        request = urllib.request.Request(  # noqa: S310  # a fixed http URL on loopback
            self._url,
            data=json.dumps(event).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                outcomes = json.load(answer).get("outcomes") or ["applied"]
        except (urllib.error.URLError, OSError, ValueError):
            return "unreachable"
        return str(outcomes[0])


def events_for(message: Received, provider_message_id: str) -> list[dict[str, Any]]:
    """SES's events for the simulator recipients of `message`, in the order SES sends them."""
    by_mailbox: dict[Mailbox, list[str]] = {}
    for address in message.rcpt_tos:
        mailbox = simulated(address)
        if mailbox is not None:
            by_mailbox.setdefault(mailbox, []).append(address)
    mail = {
        "timestamp": _iso(datetime.fromtimestamp(message.arrived_at, UTC)),
        "source": message.mail_from,
        "messageId": provider_message_id,
        "destination": list(message.rcpt_tos),
    }
    delivered = by_mailbox.get(Mailbox.SUCCESS, []) + by_mailbox.get(Mailbox.COMPLAINT, [])
    events: list[dict[str, Any]] = []
    if delivered:
        events.append(_delivery(mail, delivered))
    if bounced := by_mailbox.get(Mailbox.BOUNCE):
        events.append(_bounce(mail, bounced))
    if complained := by_mailbox.get(Mailbox.COMPLAINT):
        events.append(_complaint(mail, complained))
    return events


def _delivery(mail: dict[str, Any], recipients: list[str]) -> dict[str, Any]:
    return {
        "eventType": "Delivery",
        "mail": mail,
        "delivery": {
            "timestamp": _now(),
            "recipients": recipients,
            "smtpResponse": "250 2.6.0 Message received (simulator)",
        },
    }


def _bounce(mail: dict[str, Any], recipients: list[str]) -> dict[str, Any]:
    return {
        "eventType": "Bounce",
        "mail": mail,
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {"emailAddress": address, "diagnosticCode": "smtp; 550 5.1.1 user unknown"}
                for address in recipients
            ],
            "timestamp": _now(),
        },
    }


def _complaint(mail: dict[str, Any], recipients: list[str]) -> dict[str, Any]:
    return {
        "eventType": "Complaint",
        "mail": mail,
        "complaint": {
            "complainedRecipients": [{"emailAddress": address} for address in recipients],
            "complaintFeedbackType": "abuse",
            "timestamp": _now(),
        },
    }


def _now() -> str:
    return _iso(datetime.now(UTC))


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
