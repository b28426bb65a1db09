"""Sending through a stored template, as DreamFactory's clients do, against a real SMTP server:
by name or id, in the body or the query string, merged in DreamFactory's order; a service's
`parameters` and `is_active`; a role limited to templates; previews that send nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.access import create_key, create_role
from tests.support.api import ApiResponse, call_api, create_plain_service
from tests.support.smtp_servers import CaptureServer, Received

pytestmark = pytest.mark.usefixtures("aws")

WELCOME = {
    "name": "welcome",
    "description": "the welcome mail",
    "to": [{"email": "team@example.com", "name": "Team"}],
    "subject": "Welcome to {company}, {first_name}",
    "body_text": "{greeting} {first_name}, this is {name} from {company}. {from_name}",
    "from_name": "Welcome Desk",
    "defaults": {"first_name": "there", "greeting": "Hi"},
}
PARAMETERS = [
    {"name": "company", "value": "Acme"},
    {"name": "first_name", "value": "customer"},
    {"name": "greeting", "value": "Hello"},
]


@pytest.fixture
def server(smtp_server: Any) -> CaptureServer:
    server: CaptureServer = smtp_server()
    create_plain_service(server.port, parameters=PARAMETERS)
    created = call_api("POST", "/api/v2/system/email_template", WELCOME)
    assert created.status == 201, created.body
    return server


def _template_id() -> int:
    answer = call_api("GET", "/api/v2/system/email_template/welcome")
    assert answer.status == 200, answer.body
    template_id: int = answer.body["id"]
    return template_id


def _send(body: dict[str, Any], *, query: str = "", api_key: str | None = None) -> ApiResponse:
    if api_key is None:
        return call_api("POST", "/api/v2/email", body, query=query)
    return call_api("POST", "/api/v2/email", body, query=query, api_key=api_key)


def _only(server: CaptureServer) -> tuple[Received, str, str]:
    received = server.only_message
    parsed = received.parsed()
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None
    text: str = body.get_content()
    return received, str(parsed["Subject"]), text.strip()


def test_a_template_by_name_in_the_body_makes_the_message(server: CaptureServer) -> None:
    answer = _send({"template": "welcome"})

    assert answer.status == 200, answer.body
    received, subject, text = _only(server)
    assert received.rcpt_tos == ["team@example.com"]
    # Defaults over the service's parameters; the template's own name fills {name}.
    assert subject == "Welcome to Acme, there"
    assert text == "Hi there, this is welcome from Acme. Welcome Desk"
    assert "Welcome Desk" in str(received.parsed()["From"])


def test_request_fields_fill_the_templates_placeholders_and_win(server: CaptureServer) -> None:
    answer = _send(
        {
            "template": "welcome",
            "to": "john@example.com",
            "first_name": "John",
            "from_name": "Billing",
            "template_data": {"greeting": "Dear"},
        }
    )

    assert answer.status == 200, answer.body
    received, subject, text = _only(server)
    assert received.rcpt_tos == ["john@example.com"]
    assert subject == "Welcome to Acme, John"
    assert text == "Dear John, this is welcome from Acme. Billing"


@pytest.mark.parametrize("where", ["body", "query"])
def test_a_template_by_id(server: CaptureServer, where: str) -> None:
    template_id = _template_id()
    body: dict[str, Any] = {"first_name": "Ann"}
    if where == "body":
        answer = _send({**body, "template_id": template_id})
    else:
        answer = _send(body, query=f"template_id={template_id}")

    assert answer.status == 200, answer.body
    assert _only(server)[1] == "Welcome to Acme, Ann"


def test_a_template_by_name_in_the_query_string(server: CaptureServer) -> None:
    answer = _send({"to": "ann@example.com"}, query="template=welcome")

    assert answer.status == 200, answer.body
    received, subject, _ = _only(server)
    assert (received.rcpt_tos, subject) == (["ann@example.com"], "Welcome to Acme, there")


def test_an_unknown_template_is_a_404_and_nothing_is_sent(server: CaptureServer) -> None:
    by_name = _send({"template": "nope"})
    by_id = _send({"first_name": "x"}, query="template_id=999")

    assert (by_name.status, by_name.reason) == (404, "template_not_found")
    assert by_name.body["error"]["message"] == "Email Template 'nope' not found"
    assert by_name.body["error"]["status_code"] == 404
    assert (by_id.status, by_id.reason) == (404, "template_not_found")
    assert server.sessions == 0


def test_without_a_template_a_body_is_still_required(server: CaptureServer) -> None:
    answer = _send({"to": "john@example.com"})

    assert (answer.status, answer.reason) == (400, "no_body")
    assert answer.body["error"]["status_code"] == 400
    assert server.sessions == 0


def test_from_name_is_a_placeholder_value(server: CaptureServer) -> None:
    answer = _send(
        {"to": "john@example.com", "from_name": "Ann", "body_text": "Regards, {from_name}"}
    )

    assert answer.status == 200, answer.body
    assert _only(server)[2] == "Regards, Ann"


def test_an_inactive_service_refuses_to_send(server: CaptureServer) -> None:
    switched = call_api("PATCH", "/api/v2/system/service/email", {"is_active": False})
    assert switched.status == 200, switched.body

    answer = _send({"template": "welcome"})

    assert (answer.status, answer.reason) == (403, "service_inactive")
    assert server.sessions == 0


def test_a_key_limited_to_templates(server: CaptureServer) -> None:
    create_role("signup", services=["email"], senders=["*"], templates=["welcome"])
    key = create_key("signup").token

    free_text = _send({"to": "john@example.com", "body_text": "spam"}, api_key=key)
    rewritten = _send({"template": "welcome", "body_text": "spam"}, api_key=key)
    allowed = _send(
        {"template": "welcome", "to": "john@example.com", "first_name": "J"}, api_key=key
    )

    assert (free_text.status, free_text.reason) == (403, "template_required")
    assert (rewritten.status, rewritten.reason) == (403, "template_content_locked")
    assert allowed.status == 200, allowed.body
    assert _only(server)[1] == "Welcome to Acme, J"  # to the template's recipients


# --- preview -----------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["route", "query"])
def test_a_preview_shows_what_would_be_sent_and_sends_nothing(
    server: CaptureServer, how: str
) -> None:
    body = {
        "template": "welcome",
        "bcc": "audit@example.com",
        "first_name": "Ann",
        "attachments": [{"name": "a.txt", "content": "aGVsbG8=", "content_type": "text/plain"}],
    }
    if how == "route":
        answer = call_api("POST", "/api/v2/email/preview", body)
    else:
        answer = call_api("POST", "/api/v2/email", body, query="preview=true")

    assert answer.status == 200, answer.body
    preview = answer.body
    headers = dict(preview["headers"])
    assert headers["Subject"] == "Welcome to Acme, Ann"
    assert "Bcc" not in headers
    assert preview["recipients"] == ["team@example.com", "audit@example.com"]
    assert preview["sender"] == "noreply@example.com"
    assert preview["body_text"].strip() == "Hi Ann, this is welcome from Acme. Welcome Desk"
    assert preview["attachments"] == [
        {"name": "a.txt", "content_type": "text/plain", "size": 5, "content_id": None}
    ]
    assert preview["size"] > 0
    assert server.sessions == 0


def test_a_preview_counts_against_the_roles_allowance(server: CaptureServer) -> None:
    """A preview does the work of a send short of SMTP (issue 16: unlimited previews held a
    function busy), so it takes from the role's rate limit as a send does."""
    create_role("tight", services=["email"], senders=["*"], rate_limits={"per_minute": 2})
    key = create_key("tight").token

    previews = [
        call_api("POST", "/api/v2/email/preview", {"template": "welcome"}, api_key=key)
        for _ in range(2)
    ]
    sent = _send({"template": "welcome"}, api_key=key)

    assert [answer.status for answer in previews] == [200, 200]
    assert [answer.headers.get("X-RateLimit-Remaining") for answer in previews] == ["1", "0"]
    assert (sent.status, sent.reason) == (429, "rate_limited"), sent.body
    assert server.sessions == 0


def test_a_preview_runs_every_check(server: CaptureServer) -> None:
    answer = call_api("POST", "/api/v2/email/preview", {"to": "not-an-address", "body_text": "x"})

    assert (answer.status, answer.reason) == (400, "invalid_address")
    assert server.sessions == 0


def test_a_service_exported_from_dreamfactory_is_created_and_used_as_it_is(
    smtp_server: Any,
) -> None:
    capture: CaptureServer = smtp_server()
    exported = {
        "name": "mail",
        "label": "Mail",
        "description": "exported from DreamFactory",
        "is_active": True,
        "type": "smtp_email",
        "config": {
            "host": "127.0.0.1",
            "port": capture.port,
            "encryption": "none",
            "username": None,
            "password": None,
            "from_email": "noreply@example.com",
            "parameters": [
                {"name": "company", "value": "Acme", "active": True, "outbound": True},
            ],
        },
    }

    created = call_api("POST", "/api/v2/system/service", exported)
    answer = call_api(
        "POST",
        "/api/v2/mail",
        {"to": "john@example.com", "subject": "{company} news", "body_text": "Hi"},
    )

    assert created.status == 201, created.body
    assert (created.body["type"], created.body["is_active"]) == ("smtp_email", True)
    assert answer.status == 200, answer.body
    assert answer.body["count"] == 1
    assert str(capture.only_message.parsed()["Subject"]) == "Acme news"
