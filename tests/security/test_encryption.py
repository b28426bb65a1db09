"""Encryption under attack (issue 7): what a man in the middle can do to STARTTLS, and what the
credentials do when TLS is not there. Through the real API, against SMTP servers on loopback
that record every command and whether it came over TLS.

- Plaintext injected right after the server's 220 to STARTTLS is discarded, never read as a
  reply once TLS is up.
- A server that stops offering STARTTLS (stripped from EHLO) fails a 'tls' service, and fails
  an opportunistic one that has credentials; no AUTH and no MAIL go out in clear text.
- An opportunistic service never falls back to plain text once STARTTLS was offered.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Self

import pytest

from tests.support.api import ApiResponse, call_api, create_service
from tests.support.smtp_servers import (
    LOOPBACK,
    At,
    Authorities,
    Authority,
    CaptureServer,
    Fault,
    FaultServer,
    Security,
)

pytestmark = pytest.mark.usefixtures("aws")

USER, PASSWORD = "mailer", "pw-never-in-clear-7Hq"
SENDER = "noreply@example.com"
# What a man in the middle appends to the server's "220 Ready to start TLS", in the same TCP
# packet: a fake post-TLS EHLO reply without AUTH, and answers for the commands after it. Read
# as replies after the handshake, they would desynchronise the session (and hide AUTH).
INJECTED = b"250-injected.example\r\n250 8BITMIME\r\n235 2.7.0 injected\r\n250 2.1.0 injected\r\n"

StartServer = Callable[..., CaptureServer]


@dataclass
class _Command:
    line: str
    tls: bool

    @property
    def verb(self) -> str:
        return self.line.split(" ", 1)[0].upper()


@dataclass
class StartTlsServer:
    """One SMTP session on a raw socket, with real STARTTLS: the server side can do what
    aiosmtpd will not, write more bytes right behind its 220 before the handshake."""

    authority: Authority
    injected: bytes = b""
    commands: list[_Command] = field(default_factory=list)
    messages: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.create_server((LOOPBACK, 0))
        self._listener.settimeout(5)
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="starttls-smtp", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._thread.join()
        self._listener.close()

    def _serve(self) -> None:
        with suppress(OSError):  # the client went away, or never came: the test will tell
            connection, _ = self._listener.accept()
            connection.settimeout(5)
            with connection:
                self._converse(connection)

    def _converse(self, connection: socket.socket) -> None:
        wire: socket.socket = connection
        reader = wire.makefile("rb")
        tls = False

        def reply(text: str) -> None:
            wire.sendall(text.encode() + b"\r\n")

        reply("220 localhost ESMTP")
        while line := reader.readline():
            command = line.decode().rstrip("\r\n")
            self.commands.append(_Command(command, tls))
            verb = self.commands[-1].verb
            if verb == "EHLO":
                # AUTH only under TLS, STARTTLS only before it: a well-configured server.
                reply("250-localhost\r\n250 AUTH PLAIN" if tls else "250-localhost\r\n250 STARTTLS")
            elif verb == "STARTTLS":
                wire.sendall(b"220 2.0.0 Ready to start TLS\r\n" + self.injected)
                # The client says nothing until it has the 220, so nothing plain is buffered.
                context = self.authority.server_context()
                wire = context.wrap_socket(connection, server_side=True)
                reader, tls = wire.makefile("rb"), True
            elif verb == "AUTH":
                reply("235 2.7.0 Authentication successful")
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                reply("250 2.0.0 OK")
            elif verb == "DATA":
                reply("354 End data with <CR><LF>.<CR><LF>")
                data = b""
                while (chunk := reader.readline()) not in (b".\r\n", b""):
                    data += chunk
                self.messages.append(data)
                reply("250 2.0.0 OK: queued")
            elif verb == "QUIT":
                reply("221 2.0.0 Bye")
                return
            else:
                reply("502 5.5.2 Command not recognized")


def _service(port: int, host: str = LOOPBACK, **config: Any) -> None:
    create_service(
        {
            "host": host,
            "port": port,
            "username": USER,
            "password": PASSWORD,
            "from_email": SENDER,
            **config,
        }
    )


def _send() -> ApiResponse:
    return call_api("POST", "/api/v2/email", {"to": "john@example.com", "body_text": "Hi"})


# --- STARTTLS response injection ----------------------------------------------------------------


@pytest.mark.parametrize("encryption", ["tls", ""], ids=["tls", "opportunistic"])
def test_plaintext_injected_after_the_starttls_reply_is_discarded(
    authorities: Authorities, encryption: str
) -> None:
    with StartTlsServer(authorities.trusted, injected=INJECTED) as server:
        _service(server.port, host="localhost", encryption=encryption)

        response = _send()

    assert (response.status, response.body.get("count")) == (200, 1), response.body
    assert len(server.messages) == 1
    assert [command.verb for command in server.commands if not command.tls] == [
        "EHLO",
        "STARTTLS",
    ]
    verbs_over_tls = [command.verb for command in server.commands if command.tls]
    assert verbs_over_tls[:3] == ["EHLO", "AUTH", "MAIL"]  # the real EHLO reply was read


# --- TLS stripping ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encryption",
    [
        pytest.param({"encryption": "tls"}, id="tls"),
        pytest.param({}, id="missing"),
        pytest.param({"encryption": ""}, id="empty"),
        pytest.param({"encryption": None}, id="null"),
    ],
)
def test_no_starttls_offered_stops_before_credentials_or_mail(
    fault_server: Callable[..., FaultServer], encryption: dict[str, Any]
) -> None:
    # The fault server offers AUTH but not STARTTLS: what a stripped EHLO reply looks like.
    server = fault_server()
    _service(server.port, **encryption)

    response = _send()

    assert (response.status, response.reason) == (502, "smtp_tls_error"), response.body
    assert "STARTTLS" in response.body["error"]["message"]
    assert server.only_session.verbs == ["EHLO", "QUIT"]
    assert PASSWORD not in json.dumps(response.body)


def test_opportunistic_refusal_says_why_and_what_to_do(
    fault_server: Callable[..., FaultServer],
) -> None:
    server = fault_server()
    _service(server.port)

    message = _send().body["error"]["message"]

    assert "never sent in clear text" in message
    assert "'none'" in message
    assert "'ssl'" in message


def test_opportunistic_without_credentials_goes_on_in_plain_text(
    fault_server: Callable[..., FaultServer], configure: Callable[..., None]
) -> None:
    # The session is asserted whole, QUIT included, right after the send: that is one
    # connection per send (a kept connection says QUIT only when it is closed).
    configure(SMTP_REUSE_CONNECTIONS="false")
    server = fault_server()
    create_service({"host": LOOPBACK, "port": server.port, "from_email": SENDER})

    response = _send()

    assert (response.status, response.body.get("count")) == (200, 1), response.body
    assert server.only_session.verbs == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]


def test_explicit_none_sends_credentials_in_plain_text(smtp_server: StartServer) -> None:
    server = smtp_server(Security.PLAIN, credentials=(USER, PASSWORD))
    _service(server.port, encryption="none")

    response = _send()

    assert response.status == 200, response.body
    assert [(a.login, a.success, a.tls) for a in server.auth_attempts] == [(USER, True, False)]


# --- no downgrade once STARTTLS is offered ------------------------------------------------------


def test_a_refused_starttls_is_not_a_reason_to_go_plain(
    fault_server: Callable[..., FaultServer],
) -> None:
    server = fault_server(Fault.answer(At.STARTTLS, "454 4.7.0 TLS not available"))
    create_service({"host": LOOPBACK, "port": server.port, "from_email": SENDER})

    response = _send()

    assert response.status == 502, response.body
    assert "MAIL" not in server.only_session.verbs


def test_an_untrusted_certificate_is_not_a_reason_to_go_plain(
    smtp_server: StartServer, authorities: Authorities
) -> None:
    server = smtp_server(Security.STARTTLS, authority=authorities.untrusted)
    create_service({"host": "localhost", "port": server.port, "from_email": SENDER})

    response = _send()

    assert (response.status, response.reason) == (502, "smtp_tls_error"), response.body
    assert server.messages == []


def test_opportunistic_checks_the_certificate_as_verify_tls_says(
    smtp_server: StartServer, authorities: Authorities
) -> None:
    server = smtp_server(Security.STARTTLS, authority=authorities.untrusted)
    create_service(
        {"host": "localhost", "port": server.port, "from_email": SENDER, "verify_tls": False}
    )

    response = _send()

    assert response.status == 200, response.body
    assert server.only_message.tls


def test_the_handshake_really_happens(authorities: Authorities) -> None:
    """The injection test's server is a real TLS server: a client that does not trust its CA
    fails the handshake, so the TLS the test relies on is not pretend."""
    with StartTlsServer(authorities.untrusted) as server:
        _service(server.port, host="localhost", encryption="tls")

        response = _send()

    assert (response.status, response.reason) == (502, "smtp_tls_error"), response.body
    assert not any(command.tls for command in server.commands)
