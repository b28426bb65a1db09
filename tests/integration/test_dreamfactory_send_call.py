"""DreamFactory's send call exactly as a public app makes it, against a real SMTP server.

df-email `src/Services/BaseService.php`, `handlePOST()`: it reads `template` and
`template_id` from the request and tests each with PHP's `empty()`, the name first
(`if (!empty($templateName)) ... elseif (!empty($templateId))`). So `"template_id": 0`,
`"template_id": ""` and `"template": ""` (or null) mean "no template" there, and an app sending
both a name and `"template_id": 0` gets the named template."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.access import create_key, create_role
from tests.support.api import ApiResponse, call_api, create_plain_service
from tests.support.smtp_servers import CaptureServer

pytestmark = pytest.mark.usefixtures("aws")

REGISTRATION = {
    "name": "User Registration",
    "subject": "Confirm your account, {first_name}",
    "body_text": "Hello {first_name}, your code is {confirm_code}.",
    "from_name": "Sign-up Desk",
}


@pytest.fixture
def server(smtp_server: Any) -> CaptureServer:
    server: CaptureServer = smtp_server()
    create_plain_service(server.port)
    # DreamFactory's default template names have spaces; this one keeps to today's names.
    created = call_api(
        "POST", "/api/v2/system/email_template", {**REGISTRATION, "name": "registration"}
    )
    assert created.status == 201, created.body
    return server


def _send(body: dict[str, Any], *, query: str = "") -> ApiResponse:
    return call_api("POST", "/api/v2/email", body, query=query)


def test_the_public_apps_exact_call_gets_its_mail(server: CaptureServer) -> None:
    """The app's key in `?api_key=`, DreamFactory's session parameters sent empty (ignored),
    the template by name beside `"template_id": 0`, and `to` as one `{email, name}`."""
    create_role("app", services=["email"], senders=["*"])
    key = create_key("app").token

    answer = call_api(
        "POST",
        "/api/v2/email",
        {
            "template": "registration",
            "template_id": 0,
            "first_name": "Ann",
            "confirm_code": "Q7X2",
            "to": {"email": "ann@example.com", "name": "Ann Lee"},
        },
        api_key=None,
        query=f"api_key={key}&session_id=&session_token=",
    )

    assert answer.status == 200, answer.body
    assert answer.body["count"] == 1
    received = server.only_message
    parsed = received.parsed()
    assert received.rcpt_tos == ["ann@example.com"]
    assert str(parsed["Subject"]) == "Confirm your account, Ann"
    assert "Ann Lee" in str(parsed["To"])
    text = parsed.get_body(preferencelist=("plain",))
    assert text is not None
    assert text.get_content().strip() == "Hello Ann, your code is Q7X2."


@pytest.mark.parametrize(
    "no_template",
    [
        {"template_id": 0},
        {"template_id": ""},
        {"template_id": None},
        {"template": ""},
        {"template": None},
        {"template": "", "template_id": 0},
    ],
)
def test_an_empty_template_or_id_zero_means_no_template(
    server: CaptureServer, no_template: dict[str, Any]
) -> None:
    answer = _send(
        {"to": "bob@example.com", "subject": "Plain", "body_text": "No template.", **no_template}
    )

    assert answer.status == 200, answer.body
    assert str(server.only_message.parsed()["Subject"]) == "Plain"


def test_an_empty_name_beside_a_real_id_uses_the_id(server: CaptureServer) -> None:
    template_id = call_api("GET", "/api/v2/system/email_template/registration").body["id"]

    answer = _send(
        {"template": "", "template_id": template_id, "first_name": "Cy", "to": "cy@example.com"}
    )

    assert answer.status == 200, answer.body
    assert str(server.only_message.parsed()["Subject"]) == "Confirm your account, Cy"


@pytest.mark.parametrize("as_text", [True, False])
def test_an_id_sent_as_digits_finds_the_template(server: CaptureServer, as_text: bool) -> None:
    """An app filling its body from a form sends `"template_id": "4"`; DreamFactory's
    `EmailTemplate::find()` finds template 4 by it, and `"0"` is PHP-empty like `0`."""
    template_id = call_api("GET", "/api/v2/system/email_template/registration").body["id"]

    found = _send(
        {
            "template_id": str(template_id) if as_text else template_id,
            "first_name": "Fay",
            "to": "fay@example.com",
        }
    )
    plain = _send(
        {"template_id": "0", "to": "gus@example.com", "subject": "Plain", "body_text": "None."}
    )

    assert found.status == 200, found.body
    assert plain.status == 200, plain.body
    subjects = sorted(str(m.parsed()["Subject"]) for m in server.messages)
    assert subjects == ["Confirm your account, Fay", "Plain"]


def test_no_template_and_no_message_is_still_a_400(server: CaptureServer) -> None:
    answer = _send({"template": "", "template_id": 0, "to": "dee@example.com"})

    assert (answer.status, answer.reason) == (400, "no_body")
    assert server.sessions == 0


@pytest.mark.parametrize("template_id", [-1, "abc", "-4", " 4", "٤", True, 1.5])
def test_a_negative_or_non_numeric_template_id_is_still_a_400(
    server: CaptureServer, template_id: Any
) -> None:
    answer = _send({"template": "registration", "template_id": template_id, "to": "e@example.com"})

    assert (answer.status, answer.reason) == (400, "invalid_request"), answer.body
    assert "'template_id'" in answer.body["error"]["message"]
    assert server.sessions == 0


# --- `api_key` in the JSON body ----------------------------------------------------------------
# df-core `src/Http/Middleware/AuthCheck.php`, `getApiKey()`: the query string's `api_key`, else
# the X-DreamFactory-API-Key header, else `$request->input('api_key')`, the JSON body's.


@pytest.mark.parametrize("via_authorizer", [True, False])
def test_an_api_key_in_the_body_authenticates_and_goes_nowhere_else(
    server: CaptureServer, via_authorizer: bool
) -> None:
    """Through API Gateway (whose authorizer cannot see a body) and invoked directly; the key
    is no placeholder value, so `{api_key}` stays as written, and it is on no record."""
    create_role("app", services=["email"], senders=["*"])
    key = create_key("app").token

    answer = call_api(
        "POST",
        "/api/v2/email",
        {
            "api_key": key,
            "to": "fay@example.com",
            "subject": "Key {api_key}",
            "body_text": "Body {api_key}",
        },
        api_key=None,
        via_authorizer=via_authorizer,
    )

    assert answer.status == 200, answer.body
    received = server.only_message
    assert key.encode() not in received.data
    assert str(received.parsed()["Subject"]) == "Key {api_key}"
    record = call_api("GET", f"/api/v2/email/messages/{answer.body['id']}")
    assert record.status == 200, record.body
    assert key not in str(record.body)


@pytest.mark.parametrize("body_key", ["not-a-key", "", None, 12345])
def test_a_wrong_or_empty_api_key_in_the_body_is_a_401_and_nothing_is_sent(
    server: CaptureServer, body_key: Any
) -> None:
    answer = call_api(
        "POST",
        "/api/v2/email",
        {"api_key": body_key, "to": "gus@example.com", "body_text": "x"},
        api_key=None,
    )

    assert (answer.status, answer.reason) == (401, "unauthorized")
    assert answer.body["error"]["message"] == "Missing or invalid API key."
    assert server.sessions == 0


def test_a_body_key_does_not_open_a_route_that_reads_no_body(server: CaptureServer) -> None:
    """Only a POST goes past the authorizer without a key; a GET still stops there."""
    answer = call_api("GET", "/api/v2/system/email_template", api_key=None)

    assert answer.status == 401
