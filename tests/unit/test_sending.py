"""Sending from the API (`Mailer`): admit, send now, or accept for the queue, over fakes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from core.access.authentication import Principal
from core.access.model import Role
from core.access.quota import Quota
from core.delivery.job import Job
from core.delivery.message_record import MessageRecord, Status
from core.errors import (
    Forbidden,
    InvalidRequest,
    MessageTooLarge,
    NotFound,
    QueueUnavailable,
    RateLimited,
)
from core.outcomes import Queued, Sent
from core.send_request import SendRequest, parse_send_request
from core.sending import Mailer
from core.transport.base import Deadline
from core.transport.smtp.errors import SmtpAuthFailed, SmtpOutcomeUnknown, SmtpRejected
from tests.support.fake_delivery import FakeMessageQueue, FakeMessageRepository
from tests.support.fake_limiter import RESET_AT
from tests.support.fake_services import smtp_service
from tests.support.outbox import PROVIDER_MESSAGE_ID, REPLY, UnbuildableTransports
from tests.support.send_path import SendPath

SECRET_ID = "email-api/services/email"
ROLE = Role(
    name="app",
    services=["*"],
    senders=["*@example.com"],
    rate_limits={"per_minute": 10},
)
APP = Principal("key-1", ROLE)
PROVIDER = "service:email"


@pytest.fixture
def path() -> SendPath:
    path = SendPath()
    path.services.add(
        smtp_service(
            secret_id=SECRET_ID,
            username="mailer",
            from_name="Example App",
            reply_to_email="support@example.com",
            reply_to_name="Support",
        )
    )
    return path


@pytest.fixture
def mailer(path: SendPath) -> Mailer:
    return path.mailer()


def _request(**body: Any) -> SendRequest:
    return parse_send_request({"to": "john@example.com", "body_text": "Hi", **body})


def _send(mailer: Mailer, service: str = "email", *, caller: Principal = APP, **body: Any) -> Sent:
    return mailer.send(caller, service, _request(**body), Deadline.after(5))


def _accept(
    mailer: Mailer, service: str = "email", *, caller: Principal = APP, **body: Any
) -> Queued:
    return mailer.accept(caller, service, _request(**body))


def _nothing_left(path: SendPath) -> None:
    """No transport was built, nothing sent, no record kept, no allowance held."""
    assert path.outbox.services == []
    assert path.outbox.handed == []
    assert path.records.records == {}
    assert path.queue.queued == []
    assert all(path.limiter.held(subject) == 0 for subject in path.limiter.taken)


def _worked_but_nothing_sent(path: SendPath) -> None:
    """Refused after the work (composing) was done: nothing sent, no record kept; the role's
    unit stays used (it bounds the work a key causes), the provider's is given back."""
    assert path.outbox.services == []
    assert path.outbox.handed == []
    assert path.records.records == {}
    assert path.queue.queued == []
    assert path.limiter.held(APP.role.name) == 1
    assert path.limiter.held("service:email") == 0


# --- send: what reaches the server -----------------------------------------------------------


def test_send_hands_one_message_to_the_transport(mailer: Mailer, path: SendPath) -> None:
    result = _send(mailer, subject="Hello")

    sent = path.outbox.only_message
    assert (result.count, result.accepted, result.refused) == (1, ["john@example.com"], {})
    assert result.message_id == sent.header("Message-ID")
    record = path.records.get(result.id)
    assert (record.status, record.attempts, record.accepted, record.message_id) == (
        Status.SENT,
        1,
        ["john@example.com"],
        result.message_id,
    )
    assert record.reply == "250 2.0.0 Ok: queued as OUTBOX"
    assert (record.service, record.key_id, record.role) == ("email", "key-1", "app")
    assert sent.service.name == "email"
    assert sent.envelope.sender == "noreply@example.com"
    assert sent.envelope.recipients == ["john@example.com"]
    assert sent.parsed()["Subject"] == "Hello"
    assert (path.outbox.opened, path.outbox.closed) == (1, 1)


def test_a_sent_messages_record_keeps_the_providers_reply_and_id(
    mailer: Mailer, path: SendPath
) -> None:
    result = _send(mailer)

    record = path.records.get(result.id)
    assert (record.status, record.reply, record.provider_message_id) == (
        Status.SENT,
        REPLY,
        PROVIDER_MESSAGE_ID,
    )


def test_send_takes_both_limits_and_reports_the_callers_quota(
    mailer: Mailer, path: SendPath
) -> None:
    result = _send(mailer)

    assert path.limiter.calls == [("calendar", "app"), ("sliding", PROVIDER)]
    assert (path.limiter.held("app"), path.limiter.held(PROVIDER)) == (1, 1)
    assert result.quota == Quota(10, 9, RESET_AT)


def test_the_deadline_reaches_the_transport(mailer: Mailer, path: SendPath) -> None:
    deadline = Deadline.after(7)

    mailer.send(APP, "email", _request(), deadline)

    assert path.outbox.only_message.deadline is deadline


def test_envelope_is_to_cc_bcc_and_bcc_stays_out_of_the_message(
    mailer: Mailer, path: SendPath
) -> None:
    result = _send(
        mailer,
        to=["john@example.com", "jane@example.com"],
        cc="jane@example.com",
        bcc=["secret@example.com", "john@example.com"],
    )

    sent = path.outbox.only_message
    assert result.count == 3
    assert sent.envelope.recipients == [
        "john@example.com",
        "jane@example.com",
        "secret@example.com",
    ]
    assert b"secret@example.com" not in sent.raw
    assert "Bcc" not in sent.parsed()
    assert path.records.get(result.id).recipients == sent.envelope.recipients


def test_sender_defaults_from_the_service(mailer: Mailer, path: SendPath) -> None:
    _send(mailer)

    message = path.outbox.only_message.parsed()
    assert message["From"] == "Example App <noreply@example.com>"
    assert message["Reply-To"] == "Support <support@example.com>"


def test_request_sender_overrides_the_defaults(mailer: Mailer, path: SendPath) -> None:
    _send(mailer, from_email="billing@example.com", from_name="", reply_to_email="ar@example.com")

    sent = path.outbox.only_message
    message = sent.parsed()
    assert sent.envelope.sender == "billing@example.com"
    assert message["From"] == "billing@example.com"  # an explicit empty name wins
    assert message["Reply-To"] == "Support <ar@example.com>"


def test_service_without_a_secret_sends_through_its_own_transport(
    mailer: Mailer, path: SendPath
) -> None:
    open_service = path.services.add(smtp_service("open", encryption="none", port=25))

    _send(mailer, "open")

    assert path.outbox.services == [open_service]
    assert path.outbox.only_message.service == open_service


def test_placeholders_render_into_subject_and_bodies(mailer: Mailer, path: SendPath) -> None:
    _send(
        mailer,
        subject="Order {order}",
        body_text="Dear {name}",
        body_html="<p>Dear {name}</p>",
        template_data={"order": 42, "name": "<Ann>"},
    )

    message = path.outbox.only_message.parsed()
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None
    assert html is not None
    assert message["Subject"] == "Order 42"
    assert plain.get_content() == "Dear <Ann>\n"
    assert html.get_content() == "<p>Dear &lt;Ann&gt;</p>\n"


@pytest.mark.parametrize("value", ["42\r\nBcc: victim@example.com", "42\nX: y", "42\u2028X: y"])
def test_placeholder_value_cannot_break_the_subject(
    mailer: Mailer, path: SendPath, value: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        _send(mailer, subject="Order {order}", template_data={"order": value})

    assert (raised.value.reason, raised.value.context) == ("header_injection", {"field": "subject"})
    _worked_but_nothing_sent(path)


def test_line_breaks_from_placeholders_are_fine_in_bodies(mailer: Mailer, path: SendPath) -> None:
    _send(mailer, body_text="Lines:\n{lines}", template_data={"lines": "one\r\ntwo"})

    assert path.outbox.only_message.parsed().get_content() == "Lines:\none\ntwo\n"


def test_some_recipients_refused(mailer: Mailer, path: SendPath) -> None:
    path.outbox.refuse = {"gone@example.com": "550 5.1.1 Mailbox gone"}

    result = _send(mailer, to=["john@example.com", "gone@example.com"])

    assert result.count == 1
    assert result.accepted == ["john@example.com"]
    assert result.refused == {"gone@example.com": "550 5.1.1 Mailbox gone"}
    record = path.records.get(result.id)
    assert (record.status, record.refused) == (Status.SENT, result.refused)


def test_deferred_recipients_count_as_refused_for_a_synchronous_caller(
    mailer: Mailer, path: SendPath
) -> None:
    path.outbox.defer = {"full@example.com": "452 4.2.2 Mailbox full"}

    result = _send(mailer, to=["john@example.com", "full@example.com"])

    # Nothing is retried for a synchronous caller: a 452 is as good as a refusal to it.
    assert result.refused == {"full@example.com": "452 4.2.2 Mailbox full"}
    assert path.records.get(result.id).refused == result.refused


# --- admit: every check before the network, cheapest first -------------------------------------


def test_a_forbidden_service_is_refused_before_it_is_read(mailer: Mailer, path: SendPath) -> None:
    caller = Principal("key-2", Role(name="other", services=["bulk"], senders=["*"]))

    for service in ("email", "nope"):
        with pytest.raises(Forbidden) as raised:
            _send(mailer, service, caller=caller)
        assert (raised.value.reason, raised.value.context) == (
            "service_forbidden",
            {"service": service},
        )

    assert path.services.lookups == []
    assert path.limiter.calls == []
    _nothing_left(path)


def test_unknown_service(mailer: Mailer, path: SendPath) -> None:
    with pytest.raises(NotFound) as raised:
        _send(mailer, "nope")

    assert raised.value.reason == "service_not_found"
    assert path.services.lookups == ["nope"]
    _nothing_left(path)


def test_the_service_is_read_once_per_send(mailer: Mailer, path: SendPath) -> None:
    _send(mailer)

    assert path.services.lookups == ["email"]


def test_the_recipient_count_comes_before_composing(path: SendPath) -> None:
    path.services.add(smtp_service("bare", from_email=None, max_recipients=1))

    # Composing would refuse it too (no sender): the cheaper count answers first.
    with pytest.raises(InvalidRequest) as raised:
        _send(path.mailer(), "bare", cc="jane@example.com")

    assert (raised.value.reason, raised.value.context) == (
        "too_many_recipients",
        {"recipients": 2, "limit": 1},
    )
    _nothing_left(path)


def test_no_sender_anywhere(mailer: Mailer, path: SendPath) -> None:
    path.services.add(smtp_service("bare", from_email=None))

    with pytest.raises(InvalidRequest) as raised:
        _send(mailer, "bare")

    assert raised.value.reason == "no_sender"
    _nothing_left(path)


def test_the_role_policy_comes_before_composing(path: SendPath) -> None:
    """A request the role refuses does no work, not even the composing that would refuse it."""
    caller = Principal("key-2", Role(name="few", services=["email"], max_recipients=1))
    path.max_message_bytes = 1_000

    with pytest.raises(Forbidden) as raised:
        _send(path.mailer(), caller=caller, cc="jane@example.com", body_text="x" * 2_000)

    assert raised.value.reason == "too_many_recipients"
    _nothing_left(path)


def test_message_over_the_limit_never_reaches_a_transport(path: SendPath) -> None:
    path.max_message_bytes = 1_000

    with pytest.raises(MessageTooLarge) as raised:
        _send(path.mailer(), body_text="x" * 2_000)

    assert raised.value.status == 413
    assert raised.value.context["limit"] == 1_000
    assert raised.value.context["size"] > 1_000
    _worked_but_nothing_sent(path)


def test_the_built_message_is_held_to_the_limit_too(path: SendPath) -> None:
    # The texts fit; the headers and transfer encoding push the built message over.
    path.max_message_bytes = 1_000

    with pytest.raises(MessageTooLarge) as raised:
        _send(path.mailer(), body_text="é" * 450)

    assert raised.value.context["limit"] == 1_000
    assert "at least" not in raised.value.message
    _worked_but_nothing_sent(path)


# --- send: rate limits and failures ---------------------------------------------------------


def test_a_role_refusal_takes_nothing(mailer: Mailer, path: SendPath) -> None:
    refusal = path.limiter.refuse("app", retry_after=30)

    with pytest.raises(RateLimited) as raised:
        _send(mailer)

    assert raised.value is refusal
    assert path.limiter.calls == [("calendar", "app")]  # the provider's is never asked
    _nothing_left(path)


def test_a_provider_refusal_gives_the_roles_unit_back(mailer: Mailer, path: SendPath) -> None:
    refusal = path.limiter.refuse(PROVIDER, retry_after=2)

    with pytest.raises(RateLimited) as raised:
        _send(mailer)

    assert raised.value is refusal
    assert path.limiter.released["app"] == 1
    _nothing_left(path)


def test_a_record_that_cannot_be_written_gives_the_allowance_back(path: SendPath) -> None:
    class Unwritable(FakeMessageRepository):
        def create(self, record: MessageRecord, *, over_abandoned: bool = False) -> MessageRecord:
            raise RuntimeError("table unavailable")

    path.records = Unwritable(clock=path.clock)

    with pytest.raises(RuntimeError):
        _send(path.mailer())

    assert (path.limiter.released["app"], path.limiter.released[PROVIDER]) == (1, 1)
    _nothing_left(path)


def test_transport_failure_reaches_the_caller_unchanged(mailer: Mailer, path: SendPath) -> None:
    failure = SmtpAuthFailed("SMTP authentication failed: 535 5.7.8 Bad credentials")
    path.outbox.failure = failure

    with pytest.raises(SmtpAuthFailed) as raised:
        _send(mailer)

    assert raised.value is failure
    assert path.outbox.messages == []
    assert (path.outbox.opened, path.outbox.closed) == (1, 1)
    (record,) = path.records.records.values()
    assert (record.status, record.reason, record.reply, record.attempts) == (
        Status.FAILED,
        "smtp_auth_failed",
        failure.message,
        1,
    )
    # The attempt reached the server: the allowance stays taken.
    assert (path.limiter.held("app"), path.limiter.held(PROVIDER)) == (1, 1)


def test_an_unknown_outcome_is_recorded_as_unknown(mailer: Mailer, path: SendPath) -> None:
    unknown = SmtpOutcomeUnknown("The server closed the connection after the final dot.")
    path.outbox.failure = unknown

    with pytest.raises(SmtpOutcomeUnknown) as raised:
        _send(mailer)

    assert raised.value is unknown
    (record,) = path.records.records.values()
    assert (record.status, record.reason, record.reply) == (
        Status.UNKNOWN,
        "smtp_outcome_unknown",
        unknown.message,
    )


def test_a_failure_before_any_smtp_exchange_settles_the_record_failed(path: SendPath) -> None:
    with pytest.raises(RuntimeError):
        _send(path.mailer(UnbuildableTransports("secret unreadable")))

    (record,) = path.records.records.values()
    assert (record.status, record.reason) == (Status.FAILED, "internal_error")


def test_a_failure_before_any_smtp_exchange_gives_the_allowance_back(path: SendPath) -> None:
    with pytest.raises(RuntimeError):
        _send(path.mailer(UnbuildableTransports("secret unreadable")))

    # Nothing went out (the record says so): neither the caller nor the provider used a unit.
    assert (path.limiter.released["app"], path.limiter.released[PROVIDER]) == (1, 1)


def test_every_recipient_refused(mailer: Mailer, path: SendPath) -> None:
    path.outbox.refuse = {"john@example.com": "550 5.1.1 No such user"}

    with pytest.raises(SmtpRejected) as raised:
        _send(mailer)

    assert raised.value.context["refused"] == {"john@example.com": "550 5.1.1 No such user"}
    assert path.outbox.messages == []
    (record,) = path.records.records.values()
    assert (record.status, record.reason) == (Status.FAILED, "smtp_rejected")


def test_a_long_server_reply_is_cut_in_the_record(mailer: Mailer, path: SendPath) -> None:
    path.outbox.failure = SmtpRejected("554 " + "x" * 1_000)

    with pytest.raises(SmtpRejected):
        _send(mailer)

    (record,) = path.records.records.values()
    assert record.reply == ("554 " + "x" * 1_000)[:300]


# --- accept: into the queue -------------------------------------------------------------------


def test_accept_queues_the_composed_message(mailer: Mailer, path: SendPath) -> None:
    queued = _accept(mailer, subject="Order {order}", template_data={"order": 7})

    enqueued = path.queue.only_job
    job, message = enqueued.job, enqueued.job.message
    assert message is not None
    assert (message.subject, message.body_text) == ("Order 7", "Hi")
    assert message.sender.email == "noreply@example.com"
    assert message.date == path.clock.now().replace(microsecond=0)
    assert job == Job(id=queued.id, service="email", key_id="key-1", message=message)
    assert enqueued.delay_seconds == 0
    record = path.records.get(queued.id)
    assert record.message_id == message.message_id == queued.message_id
    assert (record.status, record.attempts, record.recipients) == (
        Status.QUEUED,
        0,
        ["john@example.com"],
    )
    assert (queued.status, queued.send_at) == ("queued", None)
    assert path.outbox.services == []


def test_accept_takes_only_the_roles_limit(mailer: Mailer, path: SendPath) -> None:
    queued = _accept(mailer)

    # The provider's pace is the worker's business, at send time.
    assert path.limiter.calls == [("calendar", "app")]
    assert path.limiter.held("app") == 1
    assert queued.quota == Quota(10, 9, RESET_AT)


def test_a_scheduled_message_waits_as_long_as_the_clock_says(
    mailer: Mailer, path: SendPath
) -> None:
    send_at = path.clock.now() + timedelta(seconds=120.4)

    queued = _accept(mailer, send_at=send_at.isoformat())

    enqueued = path.queue.only_job
    assert enqueued.delay_seconds == 120
    record = path.records.get(queued.id)
    expected = send_at.isoformat(timespec="seconds")
    assert (record.status, record.send_at, enqueued.job.send_at) == (
        Status.SCHEDULED,
        expected,
        expected,
    )
    assert (queued.status, queued.send_at) == ("scheduled", expected)


def test_a_send_at_in_the_past_is_queued_at_once(mailer: Mailer, path: SendPath) -> None:
    queued = _accept(mailer, send_at=(path.clock.now() - timedelta(hours=1)).isoformat())

    assert path.queue.only_job.delay_seconds == 0
    assert queued.status == "queued"


def test_accept_gets_the_same_checks_as_send(mailer: Mailer, path: SendPath) -> None:
    caller = Principal("key-2", Role(name="strict", services=["email"]))

    with pytest.raises(Forbidden) as raised:
        _accept(mailer, caller=caller, from_email="ceo@example.com")

    assert raised.value.reason == "sender_forbidden"
    _nothing_left(path)


def test_a_job_that_cannot_be_queued_gives_the_roles_unit_back(path: SendPath) -> None:
    class Unavailable(FakeMessageQueue):
        def enqueue(self, job: Job, *, delay_seconds: int = 0) -> None:
            raise RuntimeError("queue unavailable")

    path.queue = Unavailable()

    with pytest.raises(QueueUnavailable) as raised:
        _accept(path.mailer())

    assert path.limiter.released["app"] == 1
    assert path.limiter.held("app") == 0
    assert raised.value.status == 503


def test_a_job_that_cannot_be_queued_leaves_no_queued_record(path: SendPath) -> None:
    """A failed SendMessage (an SQS throttle or outage) settles the record it wrote as
    `failed` (`enqueue_failed`): no status lookup says `queued` for a message no job carries,
    and the caller gets a 503 naming the record, to send again."""
    path.queue = FakeMessageQueue(refuse=RuntimeError("queue unavailable"))

    with pytest.raises(QueueUnavailable) as raised:
        _accept(path.mailer())

    (record,) = path.records.records.values()
    assert (record.status, record.reason) == (Status.FAILED, "enqueue_failed")
    assert raised.value.reason == "enqueue_failed"
    assert raised.value.context == {"id": record.id}
    assert path.queue.queued == []


def test_a_job_queued_though_sendmessage_failed_is_answered_as_queued(path: SendPath) -> None:
    """SendMessage can fail after SQS took the job (a lost answer): when the worker claimed
    the record meanwhile, the message is on its way, and the caller is told so, not to
    send it again."""

    class LostAnswer(FakeMessageQueue):
        def enqueue(self, job: Job, *, delay_seconds: int = 0) -> None:
            super().enqueue(job, delay_seconds=delay_seconds)
            path.records.claim(job.id, 60)  # the worker was quicker than the answer
            raise RuntimeError("read timeout")

    path.queue = LostAnswer()

    queued = _accept(path.mailer())

    assert path.records.get(queued.id).status is Status.SENDING
    assert path.limiter.held("app") == 1


def test_a_keyed_accept_answers_the_message_already_under_its_id(path: SendPath) -> None:
    """An Idempotency-Key's retry that runs again (its first request died) finds the first
    record under the key's id and answers it: no second record, job or allowance."""
    first = path.mailer().accept(APP, "email", _request(), record_id="k" * 32)

    again = path.mailer().accept(APP, "email", _request(), record_id="k" * 32)

    assert (again.id, again.message_id, again.status) == (first.id, first.message_id, "queued")
    assert len(path.records.records) == 1
    assert len(path.queue.queued) == 1
    assert path.limiter.taken["app"] == 1


def test_a_keyed_accept_queues_anew_what_the_queue_refused(path: SendPath) -> None:
    """After a 503 (`enqueue_failed`) the same key queues the message under the same id."""
    path.queue.refuse = RuntimeError("SQS down")
    with pytest.raises(QueueUnavailable):
        path.mailer().accept(APP, "email", _request(), record_id="k" * 32)
    path.queue.refuse = None

    queued = path.mailer().accept(APP, "email", _request(), record_id="k" * 32)

    assert (queued.id, queued.status) == ("k" * 32, "queued")
    assert path.records.get(queued.id).status is Status.QUEUED
    assert path.queue.only_job.job.id == queued.id


def test_a_503_stays_a_503_when_its_staged_copy_cannot_be_deleted(path: SendPath) -> None:
    """The API function may not delete staged messages (the bucket's lifecycle does): the
    caller still gets its 503, not the delete's AccessDenied."""

    class NoDelete(FakeMessageQueue):
        def discard_staged(self, job: Job) -> None:
            raise PermissionError("AccessDenied")

    path.queue = NoDelete(refuse=RuntimeError("SQS down"))

    with pytest.raises(QueueUnavailable):
        _accept(path.mailer())
