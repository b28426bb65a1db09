"""Server-side request forgery through the SMTP host (issue 7), through the real API.

A service's host and port are where the functions open a connection; an attacker with the
admin key, or a DNS record they control, would aim them at the cloud metadata endpoint, the
Lambda runtime API on loopback or an internal service. Refused when the service is saved
(400 `destination_forbidden`, naming the field) and again when connecting, after DNS
(502 `destination_forbidden`, not retried); either way nothing connects.

The tests' environment allows loopback and any port (every test server is on 127.0.0.1 on a
port the system picks); each test here narrows that the way a deployment does.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

import pytest

from core.network.destination import DestinationPolicy
from core.network.tls import client_context
from core.services.smtp_options import Encryption
from core.transport.base import Deadline, Envelope
from core.transport.smtp import SmtpEndpoint, SmtpTransport
from core.transport.smtp.errors import SmtpConnectFailed, SmtpFailure
from tests.support.api import ApiResponse, call_api
from tests.support.smtp_servers import (
    LOOPBACK,
    At,
    Authorities,
    CaptureServer,
    Fault,
    FaultServer,
    Security,
)

pytestmark = pytest.mark.usefixtures("aws")

SENDER = "noreply@example.com"
REBOUND = "smtp.rebind.example"  # a name whose DNS answer the test controls

StartServer = Callable[..., CaptureServer]
Configure = Callable[..., None]


def _create(host: str, port: int = 587, **config: Any) -> ApiResponse:
    return call_api(
        "POST",
        "/api/v2/system/service",
        {
            "name": "email",
            "config": {
                "host": host,
                "port": port,
                "encryption": "none",
                "from_email": SENDER,
                **config,
            },
        },
    )


def _send() -> ApiResponse:
    return call_api("POST", "/api/v2/email", {"to": "john@example.com", "body_text": "Hi"})


def _assert_refused_at_create(response: ApiResponse, field: str = "config.host") -> None:
    assert (response.status, response.reason) == (400, "destination_forbidden"), response.body
    assert response.body["error"]["context"] == {"field": field}
    assert call_api("GET", "/api/v2/system/service/email").status == 404


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[str]]:
    """Makes REBOUND resolve to the addresses given, one list per lookup (the last list
    answers every later lookup); returns the list of lookups made. Other names resolve
    as usual. This is the DNS an attacker controls: its answers may change at any time."""
    real_getaddrinfo = socket.getaddrinfo

    def answer(*answers: list[str]) -> list[str]:
        lookups: list[str] = []

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if host != REBOUND:
                return real_getaddrinfo(host, port, *args, **kwargs)
            lookups.append(host)
            addresses = answers[min(len(lookups), len(answers)) - 1]
            return [
                info
                for address in addresses
                for info in real_getaddrinfo(address, port, *args, **kwargs)
            ]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        return lookups

    return answer


# --- refused when saved -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "169.254.169.254",
        "2852039166",
        "0251.0376.0251.0376",
        "::ffff:169.254.169.254",
        "[fd00:ec2::254]",
        "169.254.170.2",
        "100.100.100.200",
        "metadata.google.internal",
        "METADATA.GOOGLE.INTERNAL.",
        "metadata.goog",
        "metadata",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
        "169.254.10.10",
        "[fe80::1%eth0]",
        "224.0.0.251",
        "0.0.0.0",  # noqa: S104  # a host to refuse, not an address to bind
        "::",
        "255.255.255.255",
        "240.0.0.1",
    ],
)
def test_metadata_link_local_and_the_like_are_never_allowed(host: str) -> None:
    # Loopback and any port allowed (the tests' setting): these are refused regardless.
    response = _create(host)

    _assert_refused_at_create(response)
    assert "never allowed" in response.body["error"]["message"]


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.0.0.2",
        "2130706433",
        "0x7f000001",
        "127.1",
        "0177.0.0.1",
        "0x7f.0.0.1",
        "127.0.0.1.",
        "::1",
        "[::1]",
        "0:0:0:0:0:0:0:1",
        "::ffff:127.0.0.1",
        "[::ffff:7f00:1]",
        "localhost",
        "LOCALHOST.",
        "mail.localhost",
    ],
)
def test_every_spelling_of_loopback_is_refused_unless_allowed(
    smtp_server: StartServer, configure: Configure, host: str
) -> None:
    server = smtp_server(Security.PLAIN)
    configure(SMTP_ALLOW_LOOPBACK="false")

    response = _create(host, server.port)

    _assert_refused_at_create(response)
    assert "SMTP_ALLOW_LOOPBACK" in response.body["error"]["message"]
    assert _send().status == 404
    assert server.sessions == 0


def test_an_ip_literal_is_stored_in_its_canonical_form() -> None:
    created = _create("0x7f000001")

    assert created.status == 201, created.body
    assert created.body["config"]["host"] == "127.0.0.1"


@pytest.mark.parametrize(
    "host", ["10.0.0.25", "172.16.0.1", "192.168.1.10", "100.64.0.1", "fd00::25", "::ffff:10.1.1.1"]
)
def test_private_ranges_are_refused_when_the_operator_says_so(
    configure: Configure, host: str
) -> None:
    assert _create(host).status == 201  # allowed by default: a relay inside the VPC
    call_api("DELETE", "/api/v2/system/service/email")
    configure(SMTP_ALLOW_PRIVATE="false")

    response = _create(host)

    _assert_refused_at_create(response)
    assert "SMTP_ALLOW_PRIVATE" in response.body["error"]["message"]


@pytest.mark.parametrize("port", [6379, 11211, 80, 8080, 9001])
def test_only_smtp_ports_by_default(configure: Configure, port: int) -> None:
    configure(SMTP_ALLOWED_PORTS="25,465,587,2525")

    response = _create("smtp.example.com", port)

    _assert_refused_at_create(response, "config.port")
    assert "25, 465, 587, 2525" in response.body["error"]["message"]


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"host": "169.254.169.254"}, "config.host"),
        ({"host": "metadata.google.internal"}, "config.host"),
        ({"port": 6379}, "config.port"),
    ],
)
def test_a_patch_cannot_point_a_service_elsewhere(
    configure: Configure, patch: dict[str, Any], field: str
) -> None:
    configure(SMTP_ALLOWED_PORTS="25,465,587,2525")
    assert _create("smtp.example.com").status == 201

    response = call_api("PATCH", "/api/v2/system/service/email", {"config": patch})

    assert (response.status, response.reason) == (400, "destination_forbidden"), response.body
    assert response.body["error"]["context"] == {"field": field}
    stored = call_api("GET", "/api/v2/system/service/email").body["config"]
    assert (stored["host"], stored["port"]) == ("smtp.example.com", 587)


def test_the_mail_settings_service_is_checked_too(configure: Configure) -> None:
    configure(MAIL_SERVICE_NAME="email", MAIL_HOST="169.254.169.254", MAIL_PORT="587")

    response = _send()

    assert (response.status, response.reason) == (400, "destination_forbidden"), response.body
    assert response.body["error"]["context"] == {"field": "MAIL_HOST"}


# --- refused when connecting --------------------------------------------------------------------


def test_a_name_resolving_to_loopback_is_refused_when_connecting(
    smtp_server: StartServer, configure: Configure, resolver: Callable[..., list[str]]
) -> None:
    server = smtp_server(Security.PLAIN)
    configure(SMTP_ALLOW_LOOPBACK="false")
    lookups = resolver([LOOPBACK])
    # Only its DNS answer says where a name goes, and that can change: it is judged then.
    assert _create(REBOUND, server.port).status == 201

    response = _send()

    assert (response.status, response.reason) == (502, "destination_forbidden"), response.body
    assert "resolves to a loopback address" in response.body["error"]["message"]
    assert LOOPBACK not in json.dumps(response.body)  # the internal address is not shown
    assert lookups == [REBOUND]
    assert server.sessions == 0


@pytest.mark.parametrize(
    "answer",
    [["169.254.169.254"], ["8.8.8.8", "169.254.169.254"], ["::ffff:169.254.169.254"]],
    ids=["metadata", "one-bad-among-good", "mapped"],
)
def test_a_name_rebound_to_metadata_is_refused(
    resolver: Callable[..., list[str]], answer: list[str]
) -> None:
    resolver(answer)
    assert _create(REBOUND).status == 201

    response = _send()

    assert (response.status, response.reason) == (502, "destination_forbidden"), response.body
    assert "cloud metadata" in response.body["error"]["message"]


def test_a_stored_service_is_checked_again_when_the_policy_narrows(
    smtp_server: StartServer, configure: Configure
) -> None:
    server = smtp_server(Security.PLAIN)
    assert _create(LOOPBACK, server.port).status == 201
    configure(SMTP_ALLOW_LOOPBACK="false", SMTP_ALLOWED_PORTS="25,465,587,2525")

    listed = call_api("GET", "/api/v2/system/service/email")
    response = _send()

    assert listed.status == 200  # still readable, and fixable with a PATCH
    assert (response.status, response.reason) == (502, "destination_forbidden"), response.body
    assert server.sessions == 0


def test_the_checked_address_is_the_one_connected_to(
    smtp_server: StartServer, authorities: Authorities, resolver: Callable[..., list[str]]
) -> None:
    # The first answer is checked and connected to; a second lookup would get TEST-NET.
    lookups = resolver([LOOPBACK], ["192.0.2.1"])
    server = smtp_server(Security.STARTTLS, authority=authorities.trusted.issued_for(REBOUND))
    assert _create(REBOUND, server.port, encryption="tls").status == 201

    response = _send()

    assert response.status == 200, response.body
    assert lookups == [REBOUND]
    # The certificate names REBOUND only: TLS checked it against the host, not the address.
    assert server.only_message.tls


def test_tls_still_checks_the_certificate_against_the_configured_name(
    smtp_server: StartServer, authorities: Authorities, resolver: Callable[..., list[str]]
) -> None:
    resolver([LOOPBACK])
    server = smtp_server(
        Security.STARTTLS, authority=authorities.trusted.issued_for("other.example")
    )
    assert _create(REBOUND, server.port, encryption="tls").status == 201

    response = _send()

    assert (response.status, response.reason) == (502, "smtp_tls_error"), response.body
    assert server.messages == []


def test_a_refused_destination_is_not_retried() -> None:
    transport = SmtpTransport(
        SmtpEndpoint("169.254.169.254", 587, Encryption.TLS),
        tls=client_context(True),
        ehlo_name="client.example.com",
        destinations=DestinationPolicy(allow_loopback=True, ports=None),
    )

    with pytest.raises(SmtpConnectFailed) as refused:
        transport.send(b"x", Envelope(SENDER, ["john@example.com"]), Deadline.after(5))

    assert (refused.value.reason, refused.value.transient) == ("destination_forbidden", False)
    assert refused.value.context == {"host": "169.254.169.254", "port": 587}


# --- a server that is not an SMTP server --------------------------------------------------------

HTTP_ANSWER = "HTTP/1.1 400 Bad Request\r\nServer: internal-admin/2.3\r\nContent-Length: 0\r\n"
# What those servers said, none of which may reach the caller. (Not "999" itself: a random
# port or id in the answer may hold those digits; "internal" stands for that reply.)
SAID = ("internal", "Bad Request", "OpenSSH", "Dovecot", "-ERR")


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(Fault.answer(At.GREETING, HTTP_ANSWER), id="http-greeting"),
        pytest.param(Fault.answer(At.GREETING, "SSH-2.0-OpenSSH_9.6 internal"), id="ssh"),
        pytest.param(Fault.answer(At.GREETING, "+OK internal Dovecot ready."), id="pop3"),
        pytest.param(Fault.answer(At.EHLO, HTTP_ANSWER), id="http-at-ehlo"),
        pytest.param(Fault.answer(At.MAIL, "-ERR internal unknown command"), id="redis-at-mail"),
        pytest.param(Fault.answer(At.RCPT, "HTTP/1.1 400 internal"), id="http-at-rcpt"),
        pytest.param(Fault.answer(At.DATA, "999 internal"), id="999-at-data"),
    ],
)
def test_a_reply_that_is_no_smtp_reply_is_not_repeated(
    fault_server: Callable[..., FaultServer], fault: Fault
) -> None:
    server = fault_server(fault)
    assert _create(LOOPBACK, server.port).status == 201

    response = _send()

    assert (response.status, response.reason) == (502, "not_smtp_server"), response.body
    assert "is not an SMTP server" in response.body["error"]["message"]
    assert not [said for said in SAID if said in json.dumps(response.body)]
    assert server.delivered == []


def test_no_smtp_reply_after_the_final_dot_leaves_the_outcome_unknown(
    fault_server: Callable[..., FaultServer],
) -> None:
    server = fault_server(Fault.answer(At.END_OF_DATA, HTTP_ANSWER))
    assert _create(LOOPBACK, server.port).status == 201

    response = _send()

    # The whole message reached the server: whatever it is, it may pass the message on.
    assert (response.status, response.reason) == (502, "smtp_outcome_unknown"), response.body
    assert not [said for said in SAID if said in json.dumps(response.body)]


def test_a_non_smtp_server_is_not_retried(fault_server: Callable[..., FaultServer]) -> None:
    server = fault_server(Fault.answer(At.GREETING, HTTP_ANSWER))
    transport = SmtpTransport(
        SmtpEndpoint(LOOPBACK, server.port, Encryption.NONE),
        tls=client_context(True),
        ehlo_name="client.example.com",
    )

    with pytest.raises(SmtpFailure) as failed:
        transport.send(b"x", Envelope(SENDER, ["john@example.com"]), Deadline.after(5))

    assert (type(failed.value), failed.value.transient) == (SmtpConnectFailed, False)
