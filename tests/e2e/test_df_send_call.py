"""DreamFactory's send call as a public app makes it, replayed through the local stack's API
Gateway (authorizer included) byte for byte, with the mail checked on the capture server.

df-email `src/Services/BaseService.php` `handlePOST()` reads `template` / `template_id` with
PHP's `empty()` (so `"template_id": 0` beside a name picks the name); df-core
`src/Http/Middleware/AuthCheck.php` `getApiKey()` takes the key from `?api_key=`, the
`X-DreamFactory-API-Key` header, or the JSON body's `api_key`. The app sends DreamFactory's
session parameters empty, and its body as `application/json; charset=utf-8`."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.support.api import ApiResponse
from tests.support.stack_process import RunningStack

# What a browser's or a mobile SDK's JSON POST carries, as sent.
APP_HEADERS = {
    "Content-Type": "application/json; charset=utf-8",
    "Accept": "application/json, text/plain, */*",
}


@pytest.fixture(scope="module")
def app_key(stack: RunningStack) -> str:
    """A template named as the app names it, and an app key allowed to send with it."""
    suffix = uuid.uuid4().hex[:8]
    admin = {**APP_HEADERS, "X-DreamFactory-API-Key": stack.admin_key}
    template = {
        "name": f"registration_{suffix}",
        "subject": "Confirm your account, {first_name}",
        "body_text": "Hello {first_name}, your code is {confirm_code}.",
        "from_name": "Sign-up Desk",
    }
    role = {"name": f"public-app-{suffix}", "services": ["email"], "senders": ["*"]}
    for path, body in (("email_template", template), ("role", role)):
        created = stack.request(
            "POST", f"/api/v2/system/{path}", body=json.dumps(body), headers=admin
        )
        assert created.status == 201, created.body
    key = stack.request(
        "POST",
        "/api/v2/system/api_key",
        body=json.dumps({"role": role["name"], "label": "public app"}),
        headers=admin,
    )
    assert key.status == 201, key.body
    token: str = key.body["key"]
    return token


def _app_send(stack: RunningStack, body: dict[str, Any], query: str) -> ApiResponse:
    # The app's serialiser: compact separators and UTF-8 text as it is, not \u escapes.
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return stack.request("POST", "/api/v2/email", body=raw, headers=APP_HEADERS, query=query)


def _registration(stack: RunningStack, key_in_body: str | None = None) -> dict[str, Any]:
    template = next(
        t["name"]
        for t in stack.request(
            "GET",
            "/api/v2/system/email_template",
            headers={"X-DreamFactory-API-Key": stack.admin_key},
        ).body["resource"]
        if t["name"].startswith("registration_")
    )
    body: dict[str, Any] = {
        "template": template,
        "template_id": 0,
        "first_name": "Zoë",
        "confirm_code": "Q7X2",
        "to": {"email": "zoe@example.com", "name": "Zoë Lee"},
    }
    if key_in_body is not None:
        body["api_key"] = key_in_body
    return body


def test_the_apps_call_with_its_key_in_the_query_string(stack: RunningStack, app_key: str) -> None:
    answer = _app_send(stack, _registration(stack), f"api_key={app_key}&session_id=&session_token=")

    assert answer.status == 200, answer.body
    assert answer.body["count"] == 1
    message, envelope = stack.captured(answer.body["message_id"])
    assert envelope.rcpt_tos == ["zoe@example.com"]
    assert str(message["Subject"]) == "Confirm your account, Zoë"
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    assert text.get_content().strip() == "Hello Zoë, your code is Q7X2."


def test_the_apps_call_with_its_key_in_the_body(stack: RunningStack, app_key: str) -> None:
    """No key in a header or the query: API Gateway's authorizer lets the POST on unvouched and
    the function reads the body's key; the key goes into no mail."""
    answer = _app_send(
        stack, _registration(stack, key_in_body=app_key), "session_id=&session_token="
    )

    assert answer.status == 200, answer.body
    message, _ = stack.captured(answer.body["message_id"])
    assert app_key not in message.as_string()


def test_a_wrong_key_in_the_body_is_the_same_401_and_sends_nothing(
    stack: RunningStack, app_key: str
) -> None:
    before = sorted(stack.mail_dir.glob("*.eml"))

    answer = _app_send(stack, _registration(stack, key_in_body=app_key + "x"), "")

    assert answer.status == 401
    assert answer.reason == "unauthorized"
    assert sorted(stack.mail_dir.glob("*.eml")) == before
