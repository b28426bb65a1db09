"""The rest of the hostile list, each through the real API to a real SMTP server on loopback,
asserting on what arrived: SMTP smuggling through the body, address confusion (IDN, SMTPUTF8),
template attacks, and secrets in responses and log lines."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import pytest

from tests.support.api import call_api, create_service
from tests.support.smtp_servers import LOOPBACK, CaptureServer, Security


def _body_text(message: EmailMessage) -> str:
    body = message.get_body()
    assert body is not None
    text: str = body.get_content()
    return text


pytestmark = pytest.mark.usefixtures("aws")

VALID = {"to": "john@example.com", "subject": "Hi"}


def _send(**fields: Any) -> Any:
    return call_api("POST", "/api/v2/email", {**VALID, **fields})


# --- SMTP smuggling -----------------------------------------------------------------------

SMUGGLED = "\r\nMAIL FROM:<x@evil.example>\r\nRCPT TO:<y@evil.example>\r\nDATA\r\nevil\r\n"


@pytest.mark.parametrize(
    "ending",
    [
        pytest.param("\r\n.\r\n", id="crlf-dot-crlf"),
        pytest.param("\n.\n", id="lf-dot-lf"),
        pytest.param("\r.\r", id="cr-dot-cr"),
        pytest.param("\r\n.\n", id="crlf-dot-lf"),
        pytest.param("\n.\r\n", id="lf-dot-crlf"),
        pytest.param("\r\n.\r", id="crlf-dot-cr"),
    ],
)
@pytest.mark.parametrize("field", ["body_text", "body_html"])
def test_an_end_of_data_in_the_body_is_only_text(
    server: CaptureServer, ending: str, field: str
) -> None:
    response = _send(**{field: "Hello" + ending + SMUGGLED})

    assert response.status == 200, response.body
    received = server.only_message  # one transaction, no second one smuggled in
    assert received.rcpt_tos == ["john@example.com"]
    assert received.mail_from == "noreply@example.com"
    text = _body_text(received.parsed())
    assert "\n.\n" in text  # the dot was stuffed on the wire, and is text again here
    assert "MAIL FROM:<x@evil.example>" in text


# --- address confusion --------------------------------------------------------------------


def test_an_international_domain_goes_out_in_its_ascii_form(server: CaptureServer) -> None:
    response = _send(body_text="x", to={"email": "john@bücher.example", "name": "Jöhn"})

    assert response.status == 200, response.body
    assert server.only_message.rcpt_tos == ["john@xn--bcher-kva.example"]


@pytest.mark.parametrize(
    "address",
    [
        "jöhn@example.com",  # needs SMTPUTF8, which not every relay speaks
        "john@exa\u200bmple.com",  # zero-width space in the domain
        '"john@evil.example"@example.com',  # a quoted local part naming another address
        "john@example.com@evil.example",
        "john@[127.0.0.1]",
    ],
)
def test_addresses_that_could_be_read_two_ways_are_refused(
    server: CaptureServer, address: str
) -> None:
    response = _send(body_text="x", to=address)

    assert (response.status, response.reason) == (400, "invalid_address")
    assert server.sessions == 0


# --- template attacks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    ["{{ 7*7 }}", "{% for x in range(3) %}{{ x }}{% endfor %}", "{{ ''.__class__.__mro__ }}"],
)
def test_template_syntax_in_a_body_or_value_is_sent_as_text(
    server: CaptureServer, template: str
) -> None:
    response = _send(body_text=template + " {name}", template_data={"name": template})

    assert response.status == 200, response.body
    text = _body_text(server.only_message.parsed())
    assert text.strip() == f"{template} {template}"


# --- secrets ------------------------------------------------------------------------------

PASSWORD = "s3cret-Pa55word!"


def test_the_password_is_in_no_answer_and_no_log_line(
    smtp_server: Callable[..., CaptureServer], function_logs: Callable[[], str]
) -> None:
    server = smtp_server(Security.STARTTLS, credentials=("relay-user", "the-right-one"))
    create_service(
        {
            "host": LOOPBACK,
            "port": server.port,
            "encryption": "tls",
            "username": "relay-user",
            "password": PASSWORD,
            "from_email": "noreply@example.com",
        }
    )

    answers = [
        call_api("GET", "/api/v2/system/service"),
        call_api("GET", "/api/v2/system/service/email"),
        _send(body_text="x"),  # the server refuses the password: 502 smtp_auth_failed
        call_api("PATCH", "/api/v2/system/service/email", {"config": {"from_name": "x"}}),
    ]

    assert answers[2].reason == "smtp_auth_failed"
    for answer in answers:
        assert PASSWORD not in str(answer.body)
        assert PASSWORD not in str(answer.headers)
    assert PASSWORD not in function_logs()
    # It went where it was given for, over TLS, and nowhere else.
    assert {(a.login, a.tls) for a in server.auth_attempts} == {("relay-user", True)}
