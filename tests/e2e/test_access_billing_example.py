"""docs/access.md's worked example, over HTTP through the local stack (authorizer included):
a billing app that may send only from billing@example.com through `email`, 100 a day."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.support.api import ApiResponse
from tests.support.stack_process import RunningStack

BILLING_ROLE = {
    "name": "billing",
    "services": ["email"],
    "senders": ["billing@example.com"],
    "max_recipients": 10,
    "rate_limits": {"per_day": 100},
}


def _call(stack: RunningStack, key: str, method: str, path: str, body: Any = None) -> ApiResponse:
    return stack.request(
        method,
        path,
        body=None if body is None else json.dumps(body),
        headers={"X-DreamFactory-API-Key": key, "Content-Type": "application/json"},
    )


def _invoice(**overrides: Any) -> dict[str, Any]:
    return {
        "to": [{"email": "customer@example.com", "name": "A Customer"}],
        "from_email": "billing@example.com",
        "subject": "Invoice 2026-001",
        "body_text": "Please find your invoice attached.",
        **overrides,
    }


def test_the_billing_app_of_the_readme(stack: RunningStack) -> None:
    admin = stack.admin_key
    assert _call(stack, admin, "POST", "/api/v2/system/role", BILLING_ROLE).status == 201
    created = _call(
        stack, admin, "POST", "/api/v2/system/api_key", {"label": "billing app", "role": "billing"}
    )
    assert created.status == 201, created.body
    key = created.body["key"]
    listed = _call(stack, admin, "GET", "/api/v2/system/api_key")
    assert key not in json.dumps(listed.body)  # shown once, never again

    sent = _call(stack, key, "POST", "/api/v2/email", _invoice())
    assert sent.status == 200, sent.body
    assert sent.headers["X-RateLimit-Limit"] == "100"
    assert sent.headers["X-RateLimit-Remaining"] == "99"
    assert int(sent.headers["X-RateLimit-Reset"]) > time.time()
    message, _envelope = stack.captured(sent.body["message_id"])
    assert message["From"].addresses[0].addr_spec == "billing@example.com"

    refusals = {
        "sender_forbidden": _invoice(from_email="ceo@example.com"),
        "too_many_recipients": _invoice(to=[f"c{n}@example.com" for n in range(11)]),
    }
    for reason, body in refusals.items():
        answer = _call(stack, key, "POST", "/api/v2/email", body)
        assert (answer.status, answer.reason) == (403, reason), answer.body
    assert _call(stack, key, "POST", "/api/v2/other", _invoice()).reason == "service_forbidden"
    assert _call(stack, key, "GET", "/api/v2/system/service").reason == "admin_only"

    # Refusals used up nothing: the second invoice still sees 98 left.
    again = _call(stack, key, "POST", "/api/v2/email", _invoice())
    assert again.headers["X-RateLimit-Remaining"] == "98"

    revoked = _call(stack, admin, "DELETE", f"/api/v2/system/api_key/{created.body['id']}")
    assert revoked.status == 200
    after = _call(stack, key, "POST", "/api/v2/email", _invoice())
    assert (after.status, after.reason) == (401, "unauthorized")
