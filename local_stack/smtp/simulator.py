"""The capture server's mailbox simulator, modelled on Amazon SES's: recipients at
`simulator.example.com` answer as a real server might, so failures can be tried locally.
(Not `simulator.local`: the API refuses special-use domains such as `.local` as invalid
addresses; example.com is reserved for examples, and mail to it is never delivered anywhere.)

- `success@`: takes the message (a Delivery event follows: `local_stack.simulator_events`);
- `bounce@`: refuses it at RCPT TO, `550 5.1.1`: a mailbox that does not exist;
- `defer@`: answers the final dot `451 4.7.1` the first time(s) it sees a message, then takes it;
- `drop@`: takes the message, then closes the connection without answering the final dot;
- `slow@`: answers the final dot only after a few seconds;
- `complaint@`: takes the message (a Delivery, then a Complaint event follow).

A label after `+` is ignored (`bounce+signup@simulator.example.com` bounces), as SES's simulator
does. Any other address is captured as before. Every message taken is answered `250 2.0.0 Ok:
queued as <id>`, the id a relay names (the API records it as the provider's message id).

Why each point: a `550` at RCPT is how a relay refuses an unknown mailbox, and the API settles
the message `failed` at once. `451` comes after the final dot, keyed by the message's
Message-ID (which the API keeps across attempts), so each message is deferred
`deferrals` times and then taken, whatever else it is sent with; the count lives in memory
(a restart starts it again). The drop comes after the final dot, the one point where the
sender cannot know whether the message went (the API settles it `unknown`, or retries it with
`unknown_outcome: retry`); the message is captured, since it did arrive. `slow@` waits longer
than the API's SMTP timeout (SMTP_TIMEOUT_SECONDS, 10 s) only if told to
(LOCAL_SIMULATOR_SLOW_SECONDS): then it is a timeout after the final dot, an unknown outcome.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import default
from enum import StrEnum
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from local_stack.smtp.capture import Received
from local_stack.smtp.loopback import is_tls

SIMULATOR_DOMAIN = "simulator.example.com"
DEFAULT_DEFERRALS = 1
DEFAULT_SLOW_SECONDS = 3.0
# Messages whose deferrals are counted; the oldest are forgotten past this.
_REMEMBERED = 10_000

# What keeps an accepted message: the message, and the queue id it was answered with.
Keep = Callable[[Received, str], None]


class Mailbox(StrEnum):
    SUCCESS = "success"
    BOUNCE = "bounce"
    DEFER = "defer"
    DROP = "drop"
    SLOW = "slow"
    COMPLAINT = "complaint"


def simulated(address: str) -> Mailbox | None:
    """The simulator mailbox `address` names (`bounce+x@simulator.example.com`: BOUNCE), or None."""
    local, at, domain = address.rpartition("@")
    if not at or domain.lower() != SIMULATOR_DOMAIN:
        return None
    try:
        return Mailbox(local.split("+", 1)[0].lower())
    except ValueError:
        return None


def simulator_addresses() -> list[str]:
    return [f"{mailbox}@{SIMULATOR_DOMAIN}" for mailbox in Mailbox]


@dataclass(frozen=True)
class SimulatorSettings:
    deferrals: int = DEFAULT_DEFERRALS  # 451s a message to defer@ gets before it is taken
    slow_seconds: float = DEFAULT_SLOW_SECONDS  # how long slow@ waits before answering

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> SimulatorSettings:
        """LOCAL_SIMULATOR_DEFERRALS (a count) and LOCAL_SIMULATOR_SLOW_SECONDS."""
        deferrals = _number(environ, "LOCAL_SIMULATOR_DEFERRALS", DEFAULT_DEFERRALS)
        if deferrals != int(deferrals):
            raise SystemExit(f"LOCAL_SIMULATOR_DEFERRALS must be a whole number, not {deferrals}.")
        slow = _number(environ, "LOCAL_SIMULATOR_SLOW_SECONDS", DEFAULT_SLOW_SECONDS)
        return cls(deferrals=int(deferrals), slow_seconds=slow)


class Deferrals:
    """How often each message has been deferred; shared by the servers (threads) of a stack."""

    def __init__(self, deferrals: int) -> None:
        self._deferrals = deferrals
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def defer(self, key: str) -> int | None:
        """The number of this deferral of message `key` (from 1), or None: take it now."""
        with self._lock:
            attempts = self._seen.pop(key, 0) + 1
            self._seen[key] = attempts
            while len(self._seen) > _REMEMBERED:
                self._seen.popitem(last=False)
        return attempts if attempts <= self._deferrals else None


class SimulatorHandler:
    """aiosmtpd handler and authenticator: the simulator's recipients answer as the table
    above says, everything else is taken and handed to `keep`.

    AUTH takes any login and password: the server offers it only over TLS (after STARTTLS,
    or on the implicit-TLS port), so a service with `encryption: tls` and a username sends
    locally as it would to a real relay.
    """

    def __init__(
        self,
        keep: Keep,
        settings: SimulatorSettings | None = None,
        *,
        deferrals: Deferrals | None = None,
    ) -> None:
        self._keep = keep
        self._settings = settings or SimulatorSettings()
        self._deferrals = deferrals or Deferrals(self._settings.deferrals)

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or not is_tls(server):
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, handled=False, auth_data=auth_data.login.decode())

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if simulated(address) is Mailbox.BOUNCE:
            return f"550 5.1.1 <{address}>: Recipient address rejected: mailbox does not exist"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        mailboxes = _mailboxes(envelope.rcpt_tos)
        if Mailbox.DEFER in mailboxes:
            deferral = self._deferrals.defer(_message_key(data))
            if deferral is not None:
                return (
                    f"451 4.7.1 Try again later (simulator: deferral {deferral}"
                    f" of {self._settings.deferrals})"
                )
        if Mailbox.SLOW in mailboxes:
            await asyncio.sleep(self._settings.slow_seconds)
        queue_id = secrets.token_hex(8).upper()
        self._keep(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                data=data,
                tls=is_tls(server),
                auth_login=session.auth_data if session.authenticated else None,
            ),
            queue_id,
        )
        if Mailbox.DROP in mailboxes and isinstance(server.transport, asyncio.Transport):
            # No answer at all: the reply aiosmtpd goes on to write is lost with the connection.
            server.transport.abort()
        return f"250 2.0.0 Ok: queued as {queue_id}"


def _mailboxes(recipients: Iterable[str]) -> set[Mailbox]:
    return {mailbox for address in recipients if (mailbox := simulated(address)) is not None}


def _message_key(data: bytes) -> str:
    """What identifies a message across attempts: its Message-ID (the API keeps it when it
    tries again), or its bytes when it has none."""
    message_id = str(BytesHeaderParser(policy=default).parsebytes(data).get("Message-ID", ""))
    return message_id.strip() or hashlib.sha256(data).hexdigest()


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    """A setting that is a number, zero or more."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise SystemExit(f"{name} must be a number, zero or more, not {raw!r}.")
    return value
