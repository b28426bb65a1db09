"""The sends being measured: this project's, through its public seams (`Transports`, a
`Transport`'s open/send/close, the `Deliverer`), and the naive smtplib baseline beside them.

Each function returns the seconds one measured thing took. Import this module only after
`bench.environment.configure()`: core reads its settings (the SSRF guard's among them) on
first use.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from core.composition.compose import compose
from core.credentials import ServiceCredentials
from core.delivery.deliver import Deliverer
from core.outbound import Sealed, seal
from core.send_request import parse_send_request
from core.services.config import SmtpConfig
from core.services.model import Service
from core.services.smtp_options import Encryption
from core.transport.base import Deadline, Envelope
from core.transport.factory import Transports
from core.transport.pool import TransportPool

HOST = "127.0.0.1"
SENDER = "bench@example.com"
RECIPIENTS = [f"rcpt{n}@example.com" for n in range(1, 6)]
USERNAME = "bench-user"
PASSWORD = "bench-password"  # noqa: S105  # what the benchmark's own server takes
BODY = ("The quick brown fox jumps over the lazy dog. " * 45)[:2000]
DEADLINE_SECONDS = 30.0


class FixedPassword:
    """A `CredentialSource` with one password for every secret."""

    def password(self, secret_id: str, version: str | None) -> str | None:
        return PASSWORD

    def credentials(self, secret_id: str, version: str | None) -> ServiceCredentials:
        return ServiceCredentials(password=PASSWORD)


@dataclass(frozen=True)
class Server:
    """Where a send goes (the proxy's port, usually) and what it takes there."""

    port: int
    starttls: bool = False
    login: bool = False


def service_for(server: Server) -> Service:
    config = SmtpConfig(
        host=HOST,
        port=server.port,
        encryption=Encryption.TLS if server.starttls else Encryption.NONE,
        username=USERNAME if server.login else None,
        from_email=SENDER,
    )
    return Service(name="bench", config=config, secret_id="bench/smtp" if server.login else None)


def sealed_message(service: Service, *, body: str = BODY) -> Sealed:
    """A message as the API builds it: five recipients, about 2 KB, composed and sealed."""
    request = parse_send_request(
        {"to": [{"email": r} for r in RECIPIENTS], "subject": "bench", "body_text": body}
    )
    message = compose(request, service, now=datetime.now(UTC), size_limit=10 * 1024 * 1024)
    return seal(message, max_bytes=10 * 1024 * 1024)


class Product:
    """This project's sends to one server."""

    def __init__(self, server: Server, ca_file: str) -> None:
        self.service = service_for(server)
        self.transports = Transports(FixedPassword(), ehlo_name="bench.localhost", ca_file=ca_file)
        self.sealed = sealed_message(self.service)
        self.envelope = Envelope(SENDER, RECIPIENTS)

    def cold(self) -> float:
        """A new transport: open, one send, close."""
        started = time.perf_counter()
        deadline = Deadline.after(DEADLINE_SECONDS)
        transport = self.transports(self.service)
        transport.open(deadline)
        transport.send(self.sealed.raw, self.envelope, deadline)
        transport.close()
        return time.perf_counter() - started

    def warm(self) -> float:
        """A second send on a transport already open (the open and the first send untimed)."""
        deadline = Deadline.after(DEADLINE_SECONDS)
        with self.transports(self.service) as transport:
            transport.open(deadline)
            transport.send(self.sealed.raw, self.envelope, deadline)
            started = time.perf_counter()
            transport.send(self.sealed.raw, self.envelope, deadline)
            return time.perf_counter() - started

    def delivered_second(self) -> float:
        """What the `Deliverer` (the API's and the worker's step) takes for a second message
        to the same service, right after a first: over the connection pool they use, with its
        default settings (`core.runtime.transport_pool`)."""
        pool = TransportPool(self.transports)
        deliverer = Deliverer(pool)
        try:
            deliverer.deliver(
                self.service, self.sealed, RECIPIENTS, Deadline.after(DEADLINE_SECONDS)
            )
            started = time.perf_counter()
            deliverer.deliver(
                self.service, self.sealed, RECIPIENTS, Deadline.after(DEADLINE_SECONDS)
            )
            return time.perf_counter() - started
        finally:
            pool.close_all()


class Naive:
    """smtplib as anyone would write it: connect, STARTTLS and login as needed, `sendmail`,
    `quit`."""

    def __init__(self, server: Server, ca_file: str) -> None:
        self.server = server
        self.tls = ssl.create_default_context(cafile=ca_file) if server.starttls else None
        self.raw = sealed_message(service_for(server)).raw

    def connect(self) -> smtplib.SMTP:
        client = smtplib.SMTP(HOST, self.server.port, timeout=DEADLINE_SECONDS)
        if self.tls is not None:
            client.starttls(context=self.tls)
        if self.server.login:
            client.login(USERNAME, PASSWORD)
        return client

    def cold(self) -> float:
        started = time.perf_counter()
        client = self.connect()
        client.sendmail(SENDER, RECIPIENTS, self.raw)
        client.quit()
        return time.perf_counter() - started

    def warm(self) -> float:
        client = self.connect()
        try:
            client.sendmail(SENDER, RECIPIENTS, self.raw)
            started = time.perf_counter()
            client.sendmail(SENDER, RECIPIENTS, self.raw)
            return time.perf_counter() - started
        finally:
            client.quit()
