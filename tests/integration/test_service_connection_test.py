"""`POST /api/v2/system/service/{name}/test` against real servers on loopback: what it reports,
how it fails (with a send's reasons), and that it never sends mail."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.api import ApiResponse, call_api, create_service
from tests.support.smtp_servers import (
    LOOPBACK,
    At,
    Authorities,
    CaptureServer,
    ClosedPort,
    Fault,
    FaultServer,
    Security,
    SilentServer,
)

pytestmark = pytest.mark.usefixtures("aws")

CREDENTIALS = ("mailer@example.com", "correct horse battery staple")
StartServer = Callable[..., CaptureServer]


def _test(name: str = "email") -> ApiResponse:
    # Straight to the API function, as `sam local invoke` would: template.yaml has no event
    # for this route yet, so the local API Gateway would not route it.
    return call_api("POST", f"/api/v2/system/service/{name}/test")


def _service(port: int, encryption: str, *, host: str = "localhost", **config: Any) -> None:
    create_service({"host": host, "port": port, "encryption": encryption, **config})


def _report(response: ApiResponse) -> dict[str, Any]:
    assert response.status == 200, response.body
    report: dict[str, Any] = response.body
    return report


def _stages(report: dict[str, Any]) -> list[tuple[str, bool]]:
    return [(stage["stage"], stage["ok"]) for stage in report["stages"]]


def test_starttls_with_the_trusted_ca(smtp_server: StartServer) -> None:
    server = smtp_server(Security.STARTTLS, credentials=CREDENTIALS, require_starttls=True)
    username, password = CREDENTIALS
    _service(server.port, "tls", username=username, password=password)

    report = _report(_test())

    assert report["ok"] is True
    assert report["error"] is None
    assert _stages(report) == [
        ("connect", True),
        ("greeting", True),
        ("ehlo", True),
        ("starttls", True),
        ("ehlo", True),
        ("auth", True),
    ]
    assert report["connection"]["address"] == LOOPBACK
    assert report["connection"]["port"] == server.port
    assert report["connection"]["connect_ms"] >= 0
    assert report["greeting"].startswith("220 ")
    tls = report["tls"]
    assert (tls["mode"], tls["verified"], tls["verify_error"]) == ("starttls", True, None)
    assert tls["version"] in ("TLSv1.2", "TLSv1.3")
    assert tls["cipher"]
    certificate = tls["certificate"]
    assert certificate["days_to_expiry"] > 0
    assert "DNS:localhost" in certificate["subject_alt_names"]
    assert "IP:127.0.0.1" in certificate["subject_alt_names"]
    assert "email-api tests: trusted" in certificate["issuer"]
    before, after = report["ehlo"]
    assert (before["tls"], after["tls"]) == (False, True)
    assert before["capabilities"]["starttls"] is True
    assert before["capabilities"]["auth"] == []  # offered only once the connection is encrypted
    assert {"PLAIN", "LOGIN"} <= set(after["capabilities"]["auth"])
    assert after["capabilities"]["eight_bit_mime"] is True
    assert after["capabilities"]["size"] is not None
    assert "8BITMIME" in after["capabilities"]["extensions"]
    assert report["auth"] == {
        "username": username,
        "succeeded": True,
        "mechanisms": after["capabilities"]["auth"],
    }
    assert password not in json.dumps(report)
    assert [(a.login, a.success, a.tls) for a in server.auth_attempts] == [(username, True, True)]
    assert (server.sessions, server.transactions, server.messages) == (1, [], [])


def test_implicit_tls(smtp_server: StartServer) -> None:
    server = smtp_server(Security.IMPLICIT)
    _service(server.port, "ssl", host=LOOPBACK)

    report = _report(_test())

    assert report["ok"] is True
    assert _stages(report) == [("connect", True), ("tls", True), ("greeting", True), ("ehlo", True)]
    assert (report["tls"]["mode"], report["tls"]["verified"]) == ("implicit", True)
    assert report["tls"]["certificate"]["days_to_expiry"] > 0
    assert report["ehlo"][0]["tls"] is True
    assert report["auth"] is None
    assert server.transactions == []


@pytest.mark.parametrize(
    ("security", "encryption", "stage"),
    [(Security.STARTTLS, "tls", "starttls"), (Security.IMPLICIT, "ssl", "tls")],
)
def test_an_untrusted_certificate_is_described_but_fails(
    smtp_server: StartServer,
    authorities: Authorities,
    security: Security,
    encryption: str,
    stage: str,
) -> None:
    server = smtp_server(security, authority=authorities.untrusted)
    _service(server.port, encryption)

    report = _report(_test())

    assert report["ok"] is False
    assert (report["error"]["reason"], report["error"]["stage"]) == ("smtp_tls_error", stage)
    assert report["error"]["transient"] is False
    assert _stages(report)[-1] == (stage, False)
    tls = report["tls"]
    assert tls["verified"] is False
    assert tls["verify_error"]
    # As a second connection that checked nothing saw it: what `openssl s_client` shows.
    assert "email-api tests: untrusted" in tls["certificate"]["issuer"]
    assert "DNS:localhost" in tls["certificate"]["subject_alt_names"]
    assert server.transactions == []
    assert server.auth_attempts == []


def test_verify_tls_false_still_describes_the_certificate(
    smtp_server: StartServer, authorities: Authorities
) -> None:
    server = smtp_server(Security.STARTTLS, authority=authorities.untrusted)
    _service(server.port, "tls", verify_tls=False)

    report = _report(_test())

    assert report["ok"] is True
    tls = report["tls"]
    assert (tls["mode"], tls["verified"], tls["verify_error"]) == ("starttls", False, None)
    assert "email-api tests: untrusted" in tls["certificate"]["issuer"]
    assert tls["certificate"]["days_to_expiry"] > 0
    assert server.sessions == 1  # no second look needed: this handshake already checked nothing
    assert server.transactions == []


def test_wrong_credentials(smtp_server: StartServer) -> None:
    server = smtp_server(Security.STARTTLS, credentials=CREDENTIALS)
    _service(server.port, "tls", username="mailer@example.com", password="wrong password")

    report = _report(_test())

    assert report["ok"] is False
    error = report["error"]
    assert (error["reason"], error["stage"], error["smtp_code"]) == (
        "smtp_auth_failed",
        "auth",
        535,
    )
    assert _stages(report)[-1] == ("auth", False)
    assert report["auth"]["succeeded"] is False
    assert {"PLAIN", "LOGIN"} <= set(report["auth"]["mechanisms"])
    assert report["tls"]["verified"] is True
    assert "wrong password" not in json.dumps(report)
    assert server.transactions == []


def test_a_closed_port(closed_port: ClosedPort) -> None:
    _service(closed_port.port, "none", host=LOOPBACK)

    report = _report(_test())

    assert report["ok"] is False
    assert (report["error"]["reason"], report["error"]["stage"]) == (
        "smtp_connect_failed",
        "connect",
    )
    assert _stages(report) == [("connect", False)]
    assert report["connection"] is None
    assert report["tls"]["mode"] == "none"


def test_a_server_that_is_no_smtp_server() -> None:
    with FaultServer(Fault.answer(At.GREETING, "+OK internal Dovecot ready.")) as server:
        _service(server.port, "none", host=LOOPBACK)

        report = _report(_test())

    assert report["ok"] is False
    assert (report["error"]["reason"], report["error"]["stage"]) == ("not_smtp_server", "greeting")
    assert report["connection"]["address"] == LOOPBACK
    assert report["greeting"] is None
    assert "Dovecot" not in json.dumps(report)  # what it said is not repeated
    assert [session.transactions for session in server.sessions] == [0]


def test_a_destination_the_guard_refuses(
    smtp_server: StartServer, configure: Callable[..., None]
) -> None:
    server = smtp_server(Security.PLAIN)
    _service(server.port, "none", host=LOOPBACK)
    configure(SMTP_ALLOW_LOOPBACK="false")

    report = _report(_test())

    assert report["ok"] is False
    assert (report["error"]["reason"], report["error"]["stage"]) == (
        "destination_forbidden",
        "connect",
    )
    assert "SMTP_ALLOW_LOOPBACK" in report["error"]["message"]
    assert report["connection"] is None
    assert server.sessions == 0


def test_an_unknown_service_is_a_404() -> None:
    response = _test("nowhere")

    assert response.status == 404, response.body


def test_a_timeout_given_in_the_body_cuts_the_wait_short(
    silent_server: SilentServer, configure: Callable[..., None]
) -> None:
    configure(SMTP_TIMEOUT_SECONDS="10")
    _service(silent_server.port, "none", host=LOOPBACK)

    response = call_api(
        "POST",
        "/api/v2/system/service/email/test",
        {"timeout_seconds": 0.5},
    )

    report = _report(response)
    assert (report["error"]["reason"], report["error"]["stage"]) == ("smtp_timeout", "greeting")
    assert report["connection"]["address"] == LOOPBACK
    assert report["elapsed_ms"] < 3000
    assert silent_server.received() == b""  # waiting for a greeting, it said nothing


def test_an_api_key_that_is_not_an_admins_is_refused() -> None:
    response = call_api("POST", "/api/v2/system/service/email/test", api_key=None)

    assert response.status == 401, response.body
