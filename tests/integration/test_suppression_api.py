"""The suppression list end to end: the admin API in moto's DynamoDB, and sends to a real
SMTP server on loopback that leave suppressed recipients out of the envelope (RCPT TO)."""

from __future__ import annotations

from typing import Any

import pytest

from core import runtime
from core.suppression.model import Reason, Source
from tests.support.access import create_key, create_role
from tests.support.api import ApiResponse, call_api
from tests.support.queue_worker import SendQueue
from tests.support.smtp_servers import CaptureServer

pytestmark = pytest.mark.usefixtures("aws")

PATH = "/api/v2/system/suppression"
JOHN, JANE, GONE = "john@example.com", "jane@example.com", "gone@example.com"


def _suppress(email: str, **fields: Any) -> dict[str, Any]:
    answer = call_api("POST", PATH, {"email": email, **fields})
    assert answer.status == 201, answer.body
    entry: dict[str, Any] = answer.body
    return entry


def _send(**body: Any) -> ApiResponse:
    return call_api("POST", "/api/v2/email", {"subject": "Hi", "body_text": "Hello", **body})


# --- sending ----------------------------------------------------------------------------------


def test_a_suppressed_recipient_is_left_out_of_the_envelope_not_the_headers(
    server: CaptureServer,
) -> None:
    _suppress(GONE)

    answer = _send(to=JOHN, cc=GONE, bcc=JANE)

    assert answer.status == 200, answer.body
    assert (answer.body["count"], answer.body["suppressed"]) == (2, [GONE])
    received = server.only_message
    assert received.rcpt_tos == [JOHN, JANE]
    assert b"Cc: gone@example.com" in received.data
    record = call_api("GET", f"/api/v2/email/messages/{answer.body['id']}").body
    assert (record["recipients"], record["suppressed"]) == ([JOHN, JANE], [GONE])


def test_nobody_left_is_a_422_and_no_connection(server: CaptureServer) -> None:
    _suppress(JOHN, service="email")
    _suppress("Jane@EXAMPLE.com")  # kept with its domain lower-cased, as sends give it

    answer = _send(to=[JOHN, "Jane@example.com"])

    assert (answer.status, answer.reason) == (422, "all_recipients_suppressed")
    assert answer.body["error"]["context"] == {"suppressed": [JOHN, "Jane@example.com"]}
    assert server.sessions == 0


def test_an_entry_of_another_service_does_not_hold(server: CaptureServer) -> None:
    call_api("POST", "/api/v2/system/service", {**_service_like("email"), "name": "billing"})
    _suppress(JOHN, service="billing")

    answer = _send(to=JOHN)

    assert answer.status == 200, answer.body
    assert "suppressed" not in answer.body
    assert server.only_message.rcpt_tos == [JOHN]


def _service_like(name: str) -> dict[str, Any]:
    shown: dict[str, Any] = call_api("GET", f"/api/v2/system/service/{name}").body
    return {key: shown[key] for key in ("type", "config")}


def test_a_queued_send_is_screened_when_accepted_and_again_when_sent(
    server: CaptureServer, send_queue: SendQueue
) -> None:
    _suppress(GONE)
    accepted = call_api(
        "POST",
        "/api/v2/email",
        {"to": [JOHN, JANE, GONE], "subject": "Hi", "body_text": "Hello"},
        query="async=true",
    )
    assert accepted.status == 202, accepted.body
    assert accepted.body["suppressed"] == [GONE]
    # Jane bounces elsewhere (an SES event, say) before the worker sends.
    runtime.suppressions().add(JANE, Reason.BOUNCE, source=Source(event="Bounce"))

    send_queue.drain()

    assert server.only_message.rcpt_tos == [JOHN]
    record = call_api("GET", f"/api/v2/email/messages/{accepted.body['id']}").body
    assert (record["status"], record["accepted"]) == ("sent", [JOHN])
    assert record["suppressed"] == [GONE, JANE]


# --- the admin API ------------------------------------------------------------------------------


def test_an_added_address_is_shown_with_its_reason_and_source(server: CaptureServer) -> None:
    entry = _suppress("Gone@Example.com", reason="complaint", service="email")

    assert entry["email"] == "Gone@example.com"
    assert (entry["scope"], entry["reason"]) == ("email", "complaint")
    # Who added it: the admin key (a bounce would name its message and event instead).
    assert entry["source"] == {"message_id": None, "event": None, "key_id": "bootstrap"}
    assert entry["added_at"]


def test_a_bad_address_or_unknown_service_is_refused() -> None:
    bad = call_api("POST", PATH, {"email": "not-an-address"})
    unknown = call_api("POST", PATH, {"email": GONE, "service": "nosuch"})
    bad_reason = call_api("POST", PATH, {"email": GONE, "reason": "because"})

    assert (bad.status, bad.reason) == (400, "invalid_address")
    assert unknown.status == 404
    assert bad_reason.status == 400
    assert call_api("GET", PATH).body["resource"] == []


def test_the_list_pages_with_an_opaque_cursor_and_filters() -> None:
    for number in range(5):
        _suppress(f"user{number}@example.com")
    _suppress("complainer@example.com", reason="complaint")

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = call_api("GET", PATH, query=query)
        assert page.status == 200, page.body
        assert len(page.body["resource"]) <= 2
        seen += [entry["email"] for entry in page.body["resource"]]
        pages += 1
        cursor = page.body["meta"]["next_cursor"]
        if cursor is None:
            break

    assert sorted(seen) == sorted(
        [f"user{n}@example.com" for n in range(5)] + ["complainer@example.com"]
    )
    assert pages >= 3
    complaints = call_api("GET", PATH, query="reason=complaint").body["resource"]
    assert [entry["email"] for entry in complaints] == ["complainer@example.com"]


def test_the_list_filters_by_service_scope(server: CaptureServer) -> None:
    _suppress(JOHN)
    _suppress(JANE, service="email")

    scoped = call_api("GET", PATH, query="service=email").body["resource"]
    account = call_api("GET", PATH, query="service=*").body["resource"]

    assert [entry["email"] for entry in scoped] == [JANE]
    assert [entry["email"] for entry in account] == [JOHN]


@pytest.mark.parametrize(
    "query",
    # An empty scope was a 500 (found by the fuzzer): no such key in DynamoDB.
    ["limit=0", "limit=101", "cursor=not-a-cursor", "reason=x", "service=", "service=A%20B"],
)
def test_bad_paging_is_a_400(query: str) -> None:
    assert call_api("GET", PATH, query=query).status == 400


def test_an_address_is_removed_from_its_scope(server: CaptureServer) -> None:
    _suppress(GONE)
    _suppress(GONE, service="email")

    scoped = call_api("DELETE", f"{PATH}/{GONE}", query="service=email")
    account = call_api("DELETE", f"{PATH}/gone%40EXAMPLE.com")
    again = call_api("DELETE", f"{PATH}/{GONE}")

    assert (scoped.status, scoped.body) == (200, {"email": GONE, "scope": "email"})
    assert (account.status, account.body) == (200, {"email": GONE, "scope": "*"})
    assert (again.status, again.reason) == (404, "suppression_not_found")
    assert call_api("GET", PATH).body["resource"] == []


def test_only_admins_see_or_change_the_list() -> None:
    create_role("app", services=["*"])
    app = create_key("app").token

    for method, path, body in (
        ("GET", PATH, None),
        ("POST", PATH, {"email": GONE}),
        ("DELETE", f"{PATH}/{GONE}", None),
    ):
        assert call_api(method, path, body, api_key=app).status == 403
        assert call_api(method, path, body, api_key=None).status == 401
