"""`mailer test-service NAME` without a network: the request it makes, the report it prints,
and its exit status. A fake opener stands in for `urllib.request.urlopen`."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import pytest

from mailer_cli.main import main

URL = "https://api.example.com/v1"

PASSED: dict[str, Any] = {
    "ok": True,
    "service": "email",
    "host": "smtp.example.com",
    "port": 587,
    "encryption": "tls",
    "verify_tls": True,
    "stages": [
        {"stage": "connect", "ok": True, "ms": 12.5},
        {"stage": "greeting", "ok": True, "ms": 30.0},
        {"stage": "ehlo", "ok": True, "ms": 5.0},
        {"stage": "starttls", "ok": True, "ms": 40.2},
        {"stage": "ehlo", "ok": True, "ms": 5.1},
        {"stage": "auth", "ok": True, "ms": 8.0},
    ],
    "connection": {"address": "203.0.113.25", "port": 587, "connect_ms": 12.5},
    "greeting": "220 smtp.example.com ESMTP",
    "tls": {
        "mode": "starttls",
        "version": "TLSv1.3",
        "cipher": "TLS_AES_256_GCM_SHA384",
        "verified": True,
        "verify_error": None,
        "certificate": {
            "subject": "CN=smtp.example.com",
            "issuer": "CN=Example CA, O=Example",
            "not_before": "2026-01-01T00:00:00Z",
            "not_after": "2027-01-01T00:00:00Z",
            "days_to_expiry": 90,
            "subject_alt_names": ["DNS:smtp.example.com"],
        },
    },
    "ehlo": [
        {
            "command": "EHLO",
            "tls": False,
            "server": "smtp.example.com",
            "capabilities": {
                "extensions": {"STARTTLS": "", "PIPELINING": ""},
                "starttls": True,
                "pipelining": True,
                "chunking": False,
                "smtputf8": False,
                "eight_bit_mime": False,
                "size": None,
                "auth": [],
            },
        },
        {
            "command": "EHLO",
            "tls": True,
            "server": "smtp.example.com",
            "capabilities": {
                "extensions": {"SIZE": "10485760", "AUTH": "PLAIN LOGIN", "8BITMIME": ""},
                "starttls": False,
                "pipelining": False,
                "chunking": False,
                "smtputf8": False,
                "eight_bit_mime": True,
                "size": 10485760,
                "auth": ["PLAIN", "LOGIN"],
            },
        },
    ],
    "auth": {"username": "mailer", "succeeded": True, "mechanisms": ["PLAIN", "LOGIN"]},
    "error": None,
    "elapsed_ms": 100.8,
}

FAILED: dict[str, Any] = {
    **PASSED,
    "ok": False,
    "stages": [*PASSED["stages"][:5], {"stage": "auth", "ok": False, "ms": 8.0}],
    "auth": {"username": "mailer", "succeeded": False, "mechanisms": ["PLAIN", "LOGIN"]},
    "error": {
        "reason": "smtp_auth_failed",
        "message": "The SMTP server refused our credentials: 535 5.7.8 Bad credentials",
        "stage": "auth",
        "smtp_code": 535,
        "transient": False,
    },
}


@dataclass
class FakeOpener:
    answer: Any = None
    failure: Exception | None = None
    requests: list[urllib.request.Request] = field(default_factory=list)

    def __call__(self, request: urllib.request.Request, /, *, timeout: float) -> io.BytesIO:
        self.requests.append(request)
        if self.failure is not None:
            raise self.failure
        return io.BytesIO(json.dumps(self.answer).encode())


@dataclass
class Run:
    status: int
    stdout: str
    stderr: str


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILER_URL", URL)
    monkeypatch.setenv("MAILER_API_KEY", "admin-key-for-unit-tests")


def run(*argv: str, opener: FakeOpener) -> Run:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err, opener=opener)
    return Run(status, out.getvalue(), err.getvalue())


def test_it_posts_to_the_services_test_route_with_no_body() -> None:
    opener = FakeOpener(PASSED)

    run("test-service", "billing mail", opener=opener)

    (request,) = opener.requests
    assert request.get_method() == "POST"
    assert request.full_url == f"{URL}/api/v2/system/service/billing%20mail/test"
    assert request.data is None


def test_a_passed_test_is_printed_readably_and_exits_0() -> None:
    result = run("test-service", "email", opener=FakeOpener(PASSED))

    assert result.status == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "service email: smtp.example.com:587 (encryption tls, verify_tls on)"
    assert "  ok   starttls      40.2 ms" in lines
    assert "connected to 203.0.113.25 port 587 in 12.5 ms" in lines
    assert "greeting: 220 smtp.example.com ESMTP" in lines
    assert "TLS: TLSv1.3 TLS_AES_256_GCM_SHA384 by STARTTLS; certificate verified" in result.stdout
    assert "  expires  2027-01-01T00:00:00Z (90 days)" in lines
    assert "  names    DNS:smtp.example.com" in lines
    assert "EHLO (in clear text): smtp.example.com" in lines
    assert "  STARTTLS, PIPELINING" in lines
    assert "  8BITMIME, SIZE 10485760, AUTH PLAIN LOGIN" in lines
    assert "AUTH as mailer: succeeded (offered: PLAIN LOGIN)" in lines
    assert lines[-1] == "no mail was sent"
    assert result.stderr == ""


def test_a_signing_services_dns_record_is_printed_whole() -> None:
    record = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo"
    dkim = {
        "domain": "example.com",
        "selector": "mail2026",
        "record_name": "mail2026._domainkey.example.com",
        "record_type": "TXT",
        "record_value": record,
        "key_bits": 2048,
        "unsigned_fields": ["date", "message-id"],
        "sender_aligned": False,
    }

    result = run("test-service", "email", opener=FakeOpener({**PASSED, "dkim": dkim}))

    lines = result.stdout.splitlines()
    assert (
        "DKIM: d=example.com s=mail2026, 2048-bit key; the default sender does NOT align" in lines
    )
    assert "  publish  mail2026._domainkey.example.com TXT" in lines
    assert f'           "{record}"' in lines
    assert "  unsigned date, message-id (the provider rewrites them)" in lines


def test_a_failed_test_says_where_and_exits_1() -> None:
    result = run("test-service", "email", opener=FakeOpener(FAILED))

    assert result.status == 1
    assert "  FAIL auth           8.0 ms" in result.stdout.splitlines()
    assert "AUTH as mailer: FAILED (offered: PLAIN LOGIN)" in result.stdout
    assert (
        "FAILED at auth (smtp_auth_failed): The SMTP server refused our credentials:"
        " 535 5.7.8 Bad credentials" in result.stdout
    )


def test_an_unverified_certificate_says_why() -> None:
    tls = {**PASSED["tls"], "verified": False, "verify_error": "self-signed certificate"}
    report = {**FAILED, "tls": tls}

    result = run("test-service", "email", opener=FakeOpener(report))

    assert "certificate NOT verified: self-signed certificate" in result.stdout


def test_a_connection_never_made() -> None:
    report = {
        **FAILED,
        "stages": [{"stage": "connect", "ok": False, "ms": 1.0}],
        "connection": None,
        "greeting": None,
        "tls": {"mode": "none", "verified": False},
        "ehlo": [],
        "auth": None,
        "error": {"reason": "smtp_connect_failed", "message": "refused", "stage": "connect"},
    }

    result = run("test-service", "email", opener=FakeOpener(report))

    assert result.status == 1
    assert "TLS: none (clear text)" in result.stdout
    assert "FAILED at connect (smtp_connect_failed): refused" in result.stdout
    assert "connected to" not in result.stdout


@pytest.mark.parametrize(("report", "status"), [(PASSED, 0), (FAILED, 1)])
def test_json_prints_the_apis_report_as_is(report: dict[str, Any], status: int) -> None:
    result = run("test-service", "email", "--json", opener=FakeOpener(report))

    assert result.status == status
    assert json.loads(result.stdout) == report


def test_an_unknown_service_is_the_apis_404() -> None:
    body = {"error": {"code": 404, "message": "Service 'x' not found.", "reason": "not_found"}}
    failure = urllib.error.HTTPError(
        f"{URL}/api/v2/system/service/x/test",
        404,
        "Not Found",
        Message(),
        io.BytesIO(json.dumps(body).encode()),
    )

    result = run("test-service", "x", opener=FakeOpener(failure=failure))

    assert result.status == 1
    assert result.stdout == ""
    assert "the API answered 404 (not_found)" in result.stderr


def test_help_documents_the_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["test-service", "--help"])

    assert exited.value.code == 0
    assert "1 if the test failed" in capsys.readouterr().out
