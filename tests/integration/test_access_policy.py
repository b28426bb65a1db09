"""A role's send policy over the API and by direct invocation: which services, which senders,
how many recipients. Every refusal is a 403 before any connection to the SMTP server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from local_stack.apigateway import LocalLambdaContext
from tests.support.access import create_key, create_role, send
from tests.support.api import ApiResponse, call_api, create_plain_service, create_service
from tests.support.smtp_servers import LOOPBACK, CaptureServer

pytestmark = pytest.mark.usefixtures("aws")


@pytest.fixture
def server(smtp_server: Callable[..., CaptureServer]) -> CaptureServer:
    server = smtp_server()
    create_plain_service(server.port, from_name="Example App")
    return server


def _key(**role: Any) -> str:
    create_role("app", **{"services": ["email"], **role})
    return create_key("app").token


def _assert_refused(response: ApiResponse, reason: str, server: CaptureServer) -> dict[str, Any]:
    assert (response.status, response.reason) == (403, reason), response.body
    assert response.body["error"]["code"] == 403
    assert server.sessions == 0  # not even a connection
    assert not any(name.startswith("X-RateLimit") for name in response.headers)
    error: dict[str, Any] = response.body["error"]
    return error


# --- services -------------------------------------------------------------------------------------


def test_a_role_limited_to_another_service(server: CaptureServer) -> None:
    key = _key(services=["bulk"])

    error = _assert_refused(send(key), "service_forbidden", server)

    assert error["context"] == {"service": "email"}


def test_a_service_that_does_not_exist_is_forbidden_too(server: CaptureServer) -> None:
    # A 404 would tell the key which service names exist.
    key = _key(services=["email"])

    error = _assert_refused(send(key, "payroll"), "service_forbidden", server)

    assert error["context"] == {"service": "payroll"}


def test_a_role_for_every_service(server: CaptureServer) -> None:
    key = _key(services=["*"])

    sent, unknown = send(key), send(key, "payroll")

    assert sent.status == 200
    assert (unknown.status, unknown.reason) == (404, "service_not_found")
    assert len(server.messages) == 1


def test_a_role_for_several_services(server: CaptureServer) -> None:
    create_service(
        {
            "host": LOOPBACK,
            "port": server.port,
            "encryption": "none",
            "from_email": "b@example.com",
        },
        name="bulk",
    )
    key = _key(services=["email", "bulk"])

    assert send(key).status == 200
    assert send(key, "bulk").status == 200
    assert [message.mail_from for message in server.messages] == [
        "noreply@example.com",
        "b@example.com",
    ]


# --- senders --------------------------------------------------------------------------------------


def test_an_allowed_sender_is_what_the_server_receives(server: CaptureServer) -> None:
    key = _key(senders=["billing@example.com"])

    response = send(
        key,
        from_email="billing@example.com",
        from_name="Billing",
        reply_to_email="billing@example.com",
    )

    assert response.status == 200, response.body
    received = server.only_message
    assert received.mail_from == "billing@example.com"
    assert received.parsed()["From"] == "Billing <billing@example.com>"
    assert received.parsed()["Reply-To"] == "billing@example.com"


def test_sender_forbidden(server: CaptureServer) -> None:
    key = _key(senders=["billing@example.com"])
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"from_email": "ceo@example.com"}, "from_email", "ceo@example.com"),
        (
            {"from_email": "billing@example.com", "reply_to_email": "phish@evil.example"},
            "reply_to_email",
            "phish@evil.example",
        ),
        # The service's own default sender is checked against the rules too.
        ({}, "from_email", "noreply@example.com"),
    ]

    for body, field, address in cases:
        error = _assert_refused(send(key, **body), "sender_forbidden", server)

        assert error["context"] == {"field": field, "address": address}
        assert address in error["message"]


@pytest.mark.usefixtures("one_connection_per_send")
def test_domain_pattern(server: CaptureServer) -> None:
    key = _key(senders=["*@corp.example"])
    addresses = {
        "anyone@corp.example": True,
        "Someone.Else@CORP.example": True,
        "anyone@mail.corp.example": False,  # a subdomain is another domain
        "anyone@evilcorp.example": False,
        "anyone@corp.example.evil.org": False,
        "corp.example@evil.org": False,
    }

    for field in ("from_email", "reply_to_email"):
        for address, allowed in addresses.items():
            # The other sender field stays inside the pattern, so only `field` decides.
            response = send(key, **{"from_email": "app@corp.example", field: address})

            if allowed:
                assert response.status == 200, (field, address, response.body)
            else:
                assert (response.status, response.reason) == (403, "sender_forbidden"), address
                assert response.body["error"]["context"]["field"] == field
    assert len(server.messages) == server.sessions == 4
    assert {message.mail_from for message in server.messages} == {
        "app@corp.example",
        "anyone@corp.example",
        "Someone.Else@corp.example",
    }


@pytest.mark.usefixtures("one_connection_per_send")
def test_without_sender_rules_only_the_service_defaults(server: CaptureServer) -> None:
    create_service(
        {
            "host": LOOPBACK,
            "port": server.port,
            "encryption": "none",
            "from_email": "noreply@example.com",
            "reply_to_email": "support@example.com",
        },
        name="support",
    )
    key = _key(services=["email", "support"])

    assert send(key, "support").status == 200
    assert send(key, "support", from_email="noreply@example.com").status == 200
    received = server.messages[0].parsed()
    assert (received["From"], received["Reply-To"]) == (
        "noreply@example.com",
        "support@example.com",
    )
    refusals = [
        send(key, "support", from_email="other@example.com"),
        send(key, "support", reply_to_email="other@example.com"),
        send(key, "support", reply_to_email="noreply@example.com"),
        # `email` has no default reply-to, so this role may set none.
        send(key, "email", reply_to_email="support@example.com"),
    ]
    assert [(r.status, r.reason) for r in refusals] == [(403, "sender_forbidden")] * 4
    assert [r.body["error"]["context"]["field"] for r in refusals] == [
        "from_email",
        "reply_to_email",
        "reply_to_email",
        "reply_to_email",
    ]
    assert len(server.messages) == 2
    assert server.sessions == 2


def test_changing_the_rules_takes_effect_at_once(server: CaptureServer) -> None:
    key = _key(senders=["billing@example.com"])
    assert send(key, from_email="ar@example.com").reason == "sender_forbidden"

    patched = call_api("PATCH", "/api/v2/system/role/app", {"senders": ["ar@example.com"]})

    assert patched.status == 200, patched.body
    assert send(key, from_email="ar@example.com").status == 200
    assert send(key, from_email="billing@example.com").reason == "sender_forbidden"
    assert server.only_message.mail_from == "ar@example.com"


# --- recipients -----------------------------------------------------------------------------------


def test_too_many_recipients(server: CaptureServer) -> None:
    key = _key(max_recipients=3)

    response = send(
        key, to=["a@example.com", "b@example.com"], cc="c@example.com", bcc="d@example.com"
    )

    error = _assert_refused(response, "too_many_recipients", server)
    assert error["context"] == {"recipients": 4, "limit": 3}


def test_recipients_are_counted_once(server: CaptureServer) -> None:
    key = _key(max_recipients=3)

    response = send(
        key,
        to=["a@example.com", "b@example.com", "a@example.com"],
        cc=["b@example.com", "c@example.com"],
        bcc=["a@example.com", "c@example.com"],
    )

    assert (response.status, response.body["count"]) == (200, 3), response.body
    assert server.only_message.rcpt_tos == ["a@example.com", "b@example.com", "c@example.com"]


# --- direct invocation ----------------------------------------------------------------------------


def _invoke(service: str = "email", **message: Any) -> dict[str, Any]:
    from handlers import invoke  # imported late: the handler reads settings on first use

    event = {
        "service": service,
        "message": {"to": "john@example.com", "body_text": "Hi", **message},
    }
    context = LocalLambdaContext(timeout_seconds=10).typed()
    result: dict[str, Any] = invoke.lambda_handler(event, context)
    return result


def test_invocation_acts_with_the_configured_role(
    server: CaptureServer, configure: Callable[..., None]
) -> None:
    create_role(
        "worker",
        services=["email"],
        senders=["jobs@example.com"],
        max_recipients=1,
        rate_limits={"per_day": 1},
    )
    configure(INVOKE_ROLE="worker")

    refusals = [
        _invoke(from_email="ceo@example.com"),
        _invoke("bulk", from_email="jobs@example.com"),
        _invoke(from_email="jobs@example.com", cc="jane@example.com"),
    ]
    sent = _invoke(from_email="jobs@example.com")
    limited = _invoke(from_email="jobs@example.com")

    assert [(r["error"]["code"], r["error"]["reason"]) for r in refusals] == [
        (403, "sender_forbidden"),
        (403, "service_forbidden"),
        (403, "too_many_recipients"),
    ]
    assert sent["count"] == 1, sent
    assert (limited["error"]["code"], limited["error"]["reason"]) == (429, "rate_limited")
    assert server.only_message.mail_from == "jobs@example.com"
    assert server.sessions == 1


def test_invocation_without_a_role_is_unrestricted(server: CaptureServer) -> None:
    create_role("worker", senders=["jobs@example.com"], rate_limits={"per_day": 1})

    results = [_invoke(from_email="ceo@elsewhere.example", cc="jane@example.com") for _ in range(3)]

    assert [result.get("count") for result in results] == [2, 2, 2], results
    assert {message.mail_from for message in server.messages} == {"ceo@elsewhere.example"}


def test_invocation_with_a_missing_role_sends_nothing(
    server: CaptureServer, configure: Callable[..., None]
) -> None:
    configure(INVOKE_ROLE="deleted")

    result = _invoke()

    assert "error" in result, result
    assert "count" not in result
    assert server.sessions == 0
