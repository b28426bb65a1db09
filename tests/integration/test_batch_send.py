"""`POST /api/v2/{service}/batch` through the API handler, against a capture server on
loopback (and moto's SQS for the queued batches): what each recipient's copy holds, one
result per item, the role's limits over the whole batch, and one Idempotency-Key for it."""

from __future__ import annotations

from typing import Any

import pytest

from local_stack.apigateway import LocalLambdaContext
from tests.support.access import create_key, create_role
from tests.support.api import ApiResponse, call_api
from tests.support.queue_worker import SendQueue
from tests.support.smtp_servers import CaptureServer

pytestmark = pytest.mark.usefixtures("aws")

PEOPLE = [
    ("ann@example.com", "Ann Archer", "A-1001"),
    ("bob@example.org", "Bob Baker", "B-2002"),
    ("cyd@example.net", "Cyd Cole", "C-3003"),
]
SHARED: dict[str, Any] = {
    "subject": "Order {order_id} for {first_name}",
    "body_text": "Hello {first_name}, your order {order_id} ships from {shop}.",
    "body_html": "<p>Hello {first_name}, order <b>{order_id}</b> ships from {shop}.</p>",
    "template_data": {"shop": "Example Shop", "first_name": "customer"},
}


def _recipients_batch(people: list[tuple[str, str, str]] = PEOPLE) -> dict[str, Any]:
    return {
        "message": SHARED,
        "recipients": [
            {
                "email": email,
                "name": name,
                "template_data": {"first_name": name.split()[0], "order_id": order},
            }
            for email, name, order in people
        ],
    }


def _shared(**fields: Any) -> dict[str, Any]:
    return {**SHARED, **fields}


def _message(to: str, subject: str = "Hi") -> dict[str, Any]:
    return {"to": to, "subject": subject, "body_text": f"Hello {to}"}


def _batch(body: Any, **options: Any) -> ApiResponse:
    return call_api("POST", "/api/v2/email/batch", body, **options)


def test_each_recipient_gets_a_copy_of_their_own(server: CaptureServer) -> None:
    answer = _batch(_recipients_batch())

    assert answer.status == 200, answer.body
    results = answer.body["results"]
    assert [(r["index"], r["status"], r["count"]) for r in results] == [
        (0, "sent", 1),
        (1, "sent", 1),
        (2, "sent", 1),
    ]
    assert len({r["id"] for r in results}) == 3
    assert len(server.messages) == 3
    for (email, name, order), received in zip(PEOPLE, server.messages, strict=True):
        assert received.rcpt_tos == [email]
        mail = received.parsed()
        assert mail["To"] == f"{name} <{email}>"
        assert mail["Subject"] == f"Order {order} for {name.split()[0]}"
        text = mail.get_body(("plain",))
        assert text is not None
        assert text.get_content().strip() == (
            f"Hello {name.split()[0]}, your order {order} ships from Example Shop."
        )
        others = [person for person in PEOPLE if person[0] != email]
        for other_email, other_name, other_order in others:
            for trace in (other_email, other_name, other_order):
                assert trace.encode() not in received.data, (email, trace)


def test_each_copy_is_recorded_as_its_own_message(server: CaptureServer) -> None:
    answer = _batch(_recipients_batch())

    for result, (email, _name, _order) in zip(answer.body["results"], PEOPLE, strict=True):
        status = call_api("GET", f"/api/v2/email/messages/{result['id']}")
        assert status.status == 200, status.body
        assert status.body["status"] == "sent"
        assert status.body["recipients"] == [email]


def test_a_bad_item_fails_alone_and_the_others_are_sent(server: CaptureServer) -> None:
    answer = _batch(
        {
            "messages": [
                _message("ann@example.com"),
                _message("not-an-address"),
                {"to": "bob@example.org", "subject": "No body"},
                _message("cyd@example.net"),
            ]
        }
    )

    assert answer.status == 200, answer.body
    results = answer.body["results"]
    assert [r["status"] for r in results] == ["sent", "failed", "failed", "sent"]
    assert results[1]["error"]["code"] == results[1]["error"]["status_code"] == 400
    assert results[1]["error"]["reason"] == "invalid_address"
    assert results[2]["error"]["reason"] == "no_body"
    assert [m.rcpt_tos for m in server.messages] == [["ann@example.com"], ["cyd@example.net"]]


@pytest.mark.parametrize(
    "body",
    [
        {"messages": []},
        {"messages": {"to": "ann@example.com"}},
        {"message": {"body_text": "Hi"}},
        {"messages": [_message("ann@example.com")], "message": {}, "recipients": []},
        {"message": _shared(cc="boss@example.com"), "recipients": [{"email": "a@x.org"}]},
        {"message": _shared(bcc=["audit@example.com"]), "recipients": [{"email": "a@x.org"}]},
        [_message("ann@example.com")],
    ],
    ids=["empty", "not-a-list", "no-recipients", "both-forms", "shared-cc", "shared-bcc", "list"],
)
def test_a_malformed_batch_is_a_400_and_sends_nothing(server: CaptureServer, body: Any) -> None:
    answer = _batch(body)

    assert answer.status == 400, answer.body
    assert answer.reason in ("invalid_batch", "batch_shared_recipient", "invalid_request")
    assert server.messages == []


def test_more_than_500_items_is_a_400_before_any_is_read(server: CaptureServer) -> None:
    answer = _batch({"messages": [_message("ann@example.com")] * 501})

    assert (answer.status, answer.reason) == (400, "batch_too_large"), answer.body
    assert answer.body["error"]["context"]["limit"] == 500
    assert server.messages == []


def test_a_bad_recipient_entry_fails_alone(server: CaptureServer) -> None:
    body = _recipients_batch()
    body["recipients"].insert(1, {"email": "dee@example.com", "phone": "555"})

    answer = _batch(body)

    results = answer.body["results"]
    assert [r["status"] for r in results] == ["sent", "failed", "sent", "sent"]
    assert results[1]["error"]["reason"] == "invalid_batch"
    assert len(server.messages) == 3


def test_the_roles_recipient_cap_counts_every_recipient_of_the_batch(
    server: CaptureServer,
) -> None:
    create_role("capped", services=["email"], max_recipients=2)
    key = create_key("capped").token

    refused = _batch(_recipients_batch(), api_key=key)
    allowed = _batch(_recipients_batch(PEOPLE[:2]), api_key=key)

    assert (refused.status, refused.reason) == (403, "too_many_recipients"), refused.body
    assert refused.body["error"]["context"] == {"recipients": 3, "limit": 2}
    assert allowed.status == 200, allowed.body
    assert [m.rcpt_tos for m in server.messages] == [[PEOPLE[0][0]], [PEOPLE[1][0]]]


def test_items_past_the_roles_rate_limit_fail_with_429(server: CaptureServer) -> None:
    create_role("metered", services=["email"], rate_limits={"per_day": 2})
    key = create_key("metered").token

    answer = _batch(_recipients_batch(), api_key=key)

    assert answer.status == 200, answer.body
    results = answer.body["results"]
    assert [r["status"] for r in results] == ["sent", "sent", "failed"]
    assert results[2]["error"]["code"] == 429
    assert results[2]["error"]["reason"] == "rate_limited"
    assert results[2]["error"]["context"]["retry_after"] > 0
    assert answer.headers["X-RateLimit-Remaining"] == "0"
    assert len(server.messages) == 2


def test_a_queued_batchs_items_past_the_rate_limit_are_the_last_ones(
    send_queue: SendQueue, server: CaptureServer
) -> None:
    # The items are accepted side by side, but the allowances go to the first items in
    # order, as if taken in turn.
    create_role("metered", services=["email"], rate_limits={"per_day": 4})
    key = create_key("metered").token
    people = [(f"p{n}@example.com", f"P{n} Person", f"O-{n}") for n in range(12)]

    answer = _batch(_recipients_batch(people), api_key=key, query="async=true")

    assert answer.status == 202, answer.body
    results = answer.body["results"]
    assert [r["status"] for r in results] == ["queued"] * 4 + ["failed"] * 8
    assert {r["error"]["code"] for r in results[4:]} == {429}
    assert send_queue.waiting() == 4


def test_a_role_may_not_batch_to_a_service_it_may_not_use(server: CaptureServer) -> None:
    create_role("elsewhere", services=["other"])
    key = create_key("elsewhere").token

    answer = _batch(_recipients_batch(), api_key=key)

    assert answer.status == 403, answer.body
    assert server.messages == []


def test_an_idempotency_key_covers_the_whole_batch(server: CaptureServer) -> None:
    key = {"Idempotency-Key": "batch-1"}

    first = _batch(_recipients_batch(), headers=key)
    again = _batch(_recipients_batch(), headers=key)
    other = _batch(_recipients_batch(PEOPLE[:1]), headers=key)

    assert first.status == again.status == 200, (first.body, again.body)
    assert again.body == first.body
    assert (other.status, other.reason) == (409, "idempotency_conflict"), other.body
    assert len(server.messages) == 3


def test_a_large_batch_is_queued_then_sent_by_the_worker(
    send_queue: SendQueue, configure: Any, server: CaptureServer
) -> None:
    configure(BATCH_SEND_NOW_MAX="2")

    answer = _batch(_recipients_batch())

    assert answer.status == 202, answer.body
    results = answer.body["results"]
    assert [r["status"] for r in results] == ["queued"] * 3
    assert send_queue.waiting() == 3
    for result in results:
        status = call_api("GET", f"/api/v2/email/messages/{result['id']}")
        assert status.body["status"] == "queued", status.body
    assert server.messages == []

    send_queue.drain()

    assert sorted(m.rcpt_tos[0] for m in server.messages) == sorted(p[0] for p in PEOPLE)
    for result in results:
        status = call_api("GET", f"/api/v2/email/messages/{result['id']}")
        assert status.body["status"] == "sent", status.body


def test_async_queues_a_small_batch_and_a_replay_queues_nothing_more(
    send_queue: SendQueue, server: CaptureServer
) -> None:
    options: dict[str, Any] = {"query": "async=true", "headers": {"Idempotency-Key": "q-1"}}

    first = _batch(_recipients_batch(PEOPLE[:2]), **options)
    again = _batch(_recipients_batch(PEOPLE[:2]), **options)

    assert first.status == again.status == 202, first.body
    assert again.body == first.body
    assert send_queue.waiting() == 2
    send_queue.drain()
    assert len(server.messages) == 2


def test_a_batch_past_ten_jobs_reaches_sqs_whole(
    send_queue: SendQueue, server: CaptureServer
) -> None:
    # SendMessageBatch takes ten at a time: 23 jobs are three calls, none lost between them.
    people = [(f"p{n}@example.com", f"P {n}", f"N-{n}") for n in range(23)]

    answer = _batch(_recipients_batch(people))

    assert answer.status == 202, answer.body
    assert [r["status"] for r in answer.body["results"]] == ["queued"] * 23
    assert send_queue.waiting() == 23
    send_queue.drain(max_runs=5)
    assert sorted(m.rcpt_tos[0] for m in server.messages) == sorted(p[0] for p in people)


def test_another_lambda_may_send_a_batch_by_direct_invocation(server: CaptureServer) -> None:
    from handlers import invoke  # imported late: the handler reads settings on first use

    event = {"action": "batch", "service": "email", "batch": _recipients_batch(PEOPLE[:2])}
    invoked = invoke.lambda_handler(event, LocalLambdaContext(timeout_seconds=10).typed())
    refused = invoke.lambda_handler(
        {**event, "batch": {"messages": []}}, LocalLambdaContext(timeout_seconds=10).typed()
    )

    assert [(r["index"], r["status"]) for r in invoked["results"]] == [(0, "sent"), (1, "sent")]
    assert [m.rcpt_tos for m in server.messages] == [[PEOPLE[0][0]], [PEOPLE[1][0]]]
    assert refused["error"]["reason"] == "invalid_batch"
