"""A batch's envelope, its recipient cap and its answer: no sockets, no AWS."""

from __future__ import annotations

from typing import Any

import pytest

from core.access.authentication import Principal
from core.access.model import Role
from core.access.quota import Quota
from core.batch.envelope import MAX_BATCH_ITEMS, parse_batch
from core.batch.outcome import BatchOutcome, ItemFailed, ItemQueued, ItemSent
from core.batch.sender import BatchSender, check_recipient_cap
from core.delivery.job import Job
from core.delivery.message_record import Status
from core.errors import EmailApiError, Forbidden, InvalidRequest, RateLimited
from core.send_request import parse_send_request
from core.transport.base import Deadline
from handlers.responses import batch_answer
from tests.support.fake_delivery import FakeMessageQueue
from tests.support.fake_services import smtp_service
from tests.support.send_path import SendPath

MESSAGE = {"subject": "Hi {first_name}", "body_text": "Order {order_id}", "template_data": {}}


def _invalid(body: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as refused:
        parse_batch(body)
    return refused.value


def test_messages_are_taken_as_they_are_but_for_the_callers_api_key() -> None:
    batch = parse_batch({"messages": [{"to": "a@x.org", "api_key": "k"}, {"to": "b@x.org"}]})

    assert len(batch) == 2
    assert batch.item_body(0) == {"to": "a@x.org"}
    assert batch.item_body(1) == {"to": "b@x.org"}


def test_each_recipient_gets_the_message_to_them_alone_with_their_values_on_top() -> None:
    batch = parse_batch(
        {
            "api_key": "k",
            "message": {**MESSAGE, "template_data": {"order_id": "shared", "first_name": "you"}},
            "recipients": [
                {"email": "ann@x.org", "name": "Ann", "template_data": {"first_name": "Ann"}},
                {"email": "bob@x.org"},
            ],
        }
    )

    assert batch.item_body(0) == {
        **MESSAGE,
        "to": [{"email": "ann@x.org", "name": "Ann"}],
        "template_data": {"order_id": "shared", "first_name": "Ann"},
    }
    assert batch.item_body(1)["to"] == [{"email": "bob@x.org"}]
    assert batch.item_body(1)["template_data"] == {"order_id": "shared", "first_name": "you"}


@pytest.mark.parametrize("field", ["to", "cc", "bcc"])
def test_the_shared_message_may_name_no_recipient(field: str) -> None:
    refused = _invalid(
        {"message": {**MESSAGE, field: "x@x.org"}, "recipients": [{"email": "a@x.org"}]}
    )

    assert refused.reason == "batch_shared_recipient"
    assert refused.context["field"] == f"message.{field}"


@pytest.mark.parametrize(
    "message",
    [
        {},
        {"subject": "Hi"},
        {"subject": "Hi", "body_text": "", "body_html": None},
        {"body_text": "Hello", "template": None} | {"body_text": None},
        {"template": "", "template_id": 0},
    ],
)
def test_a_shared_message_without_a_body_or_a_template_is_refused_whole(
    message: dict[str, Any],
) -> None:
    """Every copy would fail the same way: the request is the mistake (schemathesis found a
    body-less shared message answered 200 with one 400 per recipient)."""
    refused = _invalid({"message": message, "recipients": [{"email": "a@x.org"}]})

    assert refused.reason == "no_body"
    assert refused.context["field"] == "message"


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"body_text": "Hi", "subject": 5}, "subject"),
        ({"body_text": "Hi", "from_email": "x"}, "from_email"),
    ],
)
def test_a_shared_message_that_is_no_valid_send_body_is_refused_whole(
    message: dict[str, Any], field: str
) -> None:
    refused = _invalid({"message": message, "recipients": [{"email": "a@x.org"}]})

    assert refused.status == 400
    assert field in str(refused.context)


@pytest.mark.parametrize(
    "message", [{"template": "order_shipped"}, {"template_id": 7}, {"body_html": "<p>Hi</p>"}]
)
def test_a_shared_message_with_a_template_or_a_body_is_taken(message: dict[str, Any]) -> None:
    assert len(parse_batch({"message": message, "recipients": [{"email": "a@x.org"}]})) == 1


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {},
        {"messages": []},
        {"messages": "x"},
        {"messages": [{}], "extra": 1},
        {"message": MESSAGE},
        {"message": "text", "recipients": [{"email": "a@x.org"}]},
        {"message": MESSAGE, "recipients": []},
    ],
)
def test_a_body_of_neither_form_is_refused_whole(body: Any) -> None:
    assert _invalid(body).status == 400


def test_the_item_count_is_checked_before_any_item() -> None:
    refused = _invalid({"messages": [None] * (MAX_BATCH_ITEMS + 1)})

    assert refused.reason == "batch_too_large"
    assert parse_batch({"messages": [None] * MAX_BATCH_ITEMS}) is not None


@pytest.mark.parametrize(
    "recipient",
    [
        "a@x.org",
        {"name": "No address"},
        {"email": "a@x.org", "cc": "b@x.org"},
        {"email": "a@x.org", "template_data": "x"},
    ],
    ids=["string", "no-email", "unknown-field", "template-data-not-object"],
)
def test_a_bad_recipient_entry_is_its_own_items_400(recipient: Any) -> None:
    batch = parse_batch({"message": MESSAGE, "recipients": [{"email": "ok@x.org"}, recipient]})

    assert batch.item_body(0)["to"] == [{"email": "ok@x.org"}]
    with pytest.raises(InvalidRequest):
        batch.item_body(1)


def _parsed(*recipients: list[str]) -> list[Any]:
    return [parse_send_request({"to": to, "subject": "s", "body_text": "b"}) for to in recipients]


def test_the_recipient_cap_counts_every_item_together() -> None:
    role = Role(name="capped", max_recipients=3)
    failed: list[Any] = [InvalidRequest("bad")]

    check_recipient_cap(role, _parsed(["a@x.org"], ["b@x.org", "c@x.org"]) + failed)
    with pytest.raises(Forbidden) as refused:
        check_recipient_cap(role, _parsed(["a@x.org", "b@x.org"], ["c@x.org", "d@x.org"]))

    assert refused.value.context == {"recipients": 4, "limit": 3}
    check_recipient_cap(Role(name="free"), _parsed(["a@x.org"] * 1) * 50)


def test_the_answer_lists_each_result_in_order_with_the_error_envelope() -> None:
    quota = Quota(limit=2, remaining=0, reset_at=1)
    outcome = BatchOutcome(
        results=[
            ItemSent(index=0, id="r0", message_id="<0@x>", count=1),
            ItemFailed.of(1, RateLimited("Slow down.", retry_after=30, quota=quota)),
            ItemFailed.of(2, EmailApiError("Internal error.")),
        ],
        queued=False,
        quota=quota,
    )

    status, body = batch_answer(outcome)

    assert status == 200
    assert body["results"] == [
        {"index": 0, "status": "sent", "id": "r0", "message_id": "<0@x>", "count": 1},
        {
            "index": 1,
            "status": "failed",
            "error": {
                "code": 429,
                "status_code": 429,
                "message": "Slow down.",
                "reason": "rate_limited",
                "context": {"retry_after": 30},
            },
        },
        {
            "index": 2,
            "status": "failed",
            "error": {
                "code": 500,
                "status_code": 500,
                "message": "Internal error.",
                "reason": "internal_error",
            },
        },
    ]


def test_a_queued_batch_answers_202_and_survives_the_idempotency_store() -> None:
    outcome = BatchOutcome(
        results=[
            ItemQueued(index=0, status="queued", id="r0", message_id="<0@x>"),
            ItemQueued(index=1, status="scheduled", id="r1", message_id="<1@x>", send_at="t"),
        ],
        queued=True,
    )

    stored = BatchOutcome.model_validate(outcome.model_dump(mode="json"))
    status, body = batch_answer(stored)

    assert stored == outcome
    assert status == 202
    assert body["results"][1] == {
        "index": 1,
        "status": "scheduled",
        "id": "r1",
        "message_id": "<1@x>",
        "send_at": "t",
    }


# --- through the mailer, over fakes ----------------------------------------------------------

APP = Principal("key-1", Role(name="app", services=["*"], rate_limits={"per_day": 100}))


@pytest.fixture
def path() -> SendPath:
    path = SendPath()
    path.services.add(smtp_service(secret_id="email-api/services/email"))
    return path


def _sender(path: SendPath, *, send_now_max: int = 10) -> BatchSender:
    def no_store() -> Any:
        raise AssertionError("no Idempotency-Key, no idempotency store")

    return BatchSender(
        path.mailer(),
        no_store,
        idempotency_seconds=60,
        send_deadline=lambda _remaining: Deadline.after(5),
        send_now_max=send_now_max,
    )


def _run(path: SendPath, body: Any, *, send_now_max: int = 10) -> BatchOutcome:
    return _sender(path, send_now_max=send_now_max).send(
        APP,
        "email",
        parse_batch(body),
        body,
        asynchronous=False,
        idempotency_key=None,
        lambda_context=None,
    )


def _people(count: int) -> dict[str, Any]:
    return {
        "message": MESSAGE,
        "recipients": [
            {"email": f"p{n}@example.com", "template_data": {"order_id": str(n)}}
            for n in range(count)
        ],
    }


def test_a_small_batch_is_sent_now_in_order(path: SendPath) -> None:
    outcome = _run(path, _people(3))

    assert not outcome.queued
    assert [(r.index, r.status) for r in outcome.results] == [(0, "sent"), (1, "sent"), (2, "sent")]
    assert [m.envelope.recipients for m in path.outbox.messages] == [
        [f"p{n}@example.com"] for n in range(3)
    ]
    assert path.queue.queued == []


def test_a_large_batch_is_queued_with_a_record_and_a_job_per_item(path: SendPath) -> None:
    outcome = _run(path, _people(25), send_now_max=10)

    assert outcome.queued
    assert {r.status for r in outcome.results} == {"queued"}
    queued = [r.id for r in outcome.results if isinstance(r, ItemQueued)]
    assert [q.job.id for q in path.queue.queued] == queued
    assert len(queued) == 25
    assert {path.records.get(q.job.id).status for q in path.queue.queued} == {Status.QUEUED}
    assert path.outbox.messages == []
    assert path.limiter.held("app") == 25


def test_a_job_the_queue_refuses_fails_its_item_alone(path: SendPath) -> None:
    class RefusesTheSecond(FakeMessageQueue):
        def enqueue(self, job: Job, *, delay_seconds: int = 0) -> None:
            if len(self.queued) == 1 and not getattr(self, "refused", False):
                self.refused = True
                raise RuntimeError("throttled")
            super().enqueue(job, delay_seconds=delay_seconds)

    path.queue = RefusesTheSecond()

    outcome = _run(path, _people(3), send_now_max=0)

    assert [r.status for r in outcome.results] == ["queued", "failed", "queued"]
    failed = outcome.results[1]
    assert isinstance(failed, ItemFailed)
    assert (failed.code, failed.reason) == (503, "enqueue_failed")
    record = path.records.get(failed.context["id"])
    assert (record.status, record.reason) == (Status.FAILED, "enqueue_failed")
    assert path.limiter.held("app") == 2
