"""The suppression list over fakes: what `Suppressions` keeps, how a send (now, queued, and
again by the worker) leaves suppressed recipients out, and the 422 when nobody is left."""

from __future__ import annotations

from typing import Any

import pytest

from core.access.authentication import Principal
from core.access.model import Role
from core.delivery.attempt import Done
from core.delivery.message_record import Status
from core.errors import AllRecipientsSuppressed, InvalidRequest, NotFound
from core.send_request import parse_send_request
from core.suppression.model import ACCOUNT_WIDE, Reason, Source
from core.transport.base import Deadline
from tests.support.fake_limiter import FakeLimiter
from tests.support.fake_services import smtp_service
from tests.support.send_path import SendPath

KEY = "key-1"
APP = Principal(KEY, Role(name="app", services=["*"], senders=["*@example.com"]))
PROVIDER = "service:email"
JOHN, JANE, GONE = "john@example.com", "jane@example.com", "gone@example.com"


@pytest.fixture
def path() -> SendPath:
    path = SendPath()
    path.services.add(smtp_service())
    path.services.add(smtp_service(name="billing"))
    path.keys[KEY] = APP
    return path


def _request(**body: Any) -> Any:
    return parse_send_request({"to": JOHN, "body_text": "Hi", **body})


# --- the list ----------------------------------------------------------------------------------


def test_an_address_is_kept_validated_with_its_domain_lower_cased(path: SendPath) -> None:
    source = Source(message_id="m-1", event="Bounce")

    entry = path.suppressions().add("Gone@Example.COM", Reason.BOUNCE, source=source)

    assert (entry.email, entry.scope, entry.reason, entry.source) == (
        "Gone@example.com",
        ACCOUNT_WIDE,
        Reason.BOUNCE,
        source,
    )
    assert entry.added_at == path.clock.now().isoformat(timespec="seconds")
    assert path.suppression_store.get(ACCOUNT_WIDE, "Gone@example.com") == entry


def test_a_bad_address_is_refused(path: SendPath) -> None:
    with pytest.raises(InvalidRequest) as refused:
        path.suppressions().add("not-an-address", Reason.MANUAL)

    assert refused.value.reason == "invalid_address"
    assert path.suppression_store.entries == {}


def test_removing_an_absent_address_is_not_found(path: SendPath) -> None:
    path.suppressions().add(GONE, Reason.MANUAL, scope="billing")

    with pytest.raises(NotFound) as missing:
        path.suppressions().remove(GONE)  # account-wide: not there

    assert missing.value.reason == "suppression_not_found"
    path.suppressions().remove(GONE, scope="billing")
    assert path.suppression_store.entries == {}


def test_screening_reads_once_for_every_recipient_and_both_scopes(path: SendPath) -> None:
    suppressions = path.suppressions()
    suppressions.add(GONE, Reason.BOUNCE)
    suppressions.add(JANE, Reason.COMPLAINT, scope="billing")

    for_email = suppressions.screen("email", [JOHN, JANE, "gone@EXAMPLE.com"])
    for_billing = suppressions.screen("billing", [JOHN, JANE, GONE])

    assert (for_email.kept, for_email.suppressed) == ([JOHN, JANE], ["gone@EXAMPLE.com"])
    assert (for_billing.kept, for_billing.suppressed) == ([JOHN], [JANE, GONE])
    assert path.suppression_store.reads == 2


# --- a send now -------------------------------------------------------------------------------


def test_a_send_leaves_suppressed_recipients_out_of_the_envelope_only(path: SendPath) -> None:
    path.suppressions().add(GONE, Reason.BOUNCE)

    sent = path.mailer().send(APP, "email", _request(cc=GONE, bcc=JANE), Deadline.after(5))

    message = path.outbox.only_message
    assert message.envelope.recipients == [JOHN, JANE]
    assert message.header("Cc") == GONE  # the others see the message as it was written
    assert (sent.count, sent.accepted, sent.suppressed) == (2, [JOHN, JANE], [GONE])
    record = path.records.get(sent.id)
    assert (record.recipients, record.suppressed) == ([JOHN, JANE], [GONE])


def test_nobody_left_is_a_422_and_nothing_is_sent(path: SendPath) -> None:
    path.suppressions().add(JOHN, Reason.COMPLAINT, scope="email")

    with pytest.raises(AllRecipientsSuppressed) as refused:
        path.mailer().send(APP, "email", _request(), Deadline.after(5))

    assert (refused.value.status, refused.value.reason) == (422, "all_recipients_suppressed")
    assert refused.value.context == {"suppressed": [JOHN]}
    assert path.outbox.services == []
    assert path.records.records == {}
    assert path.limiter.held(PROVIDER) == 0


def test_another_services_scope_does_not_hold(path: SendPath) -> None:
    path.suppressions().add(JOHN, Reason.MANUAL, scope="billing")

    sent = path.mailer().send(APP, "email", _request(), Deadline.after(5))

    assert (sent.count, sent.suppressed) == (1, [])


# --- queued ------------------------------------------------------------------------------------


def test_a_queued_send_is_screened_when_accepted(path: SendPath) -> None:
    path.suppressions().add(GONE, Reason.BOUNCE)

    queued = path.mailer().accept(APP, "email", _request(to=[JOHN, GONE]))

    assert queued.suppressed == [GONE]
    record = path.records.get(queued.id)
    assert (record.recipients, record.suppressed) == ([JOHN], [GONE])
    with pytest.raises(AllRecipientsSuppressed):
        path.mailer().accept(APP, "email", _request(to=GONE))


def _queued(path: SendPath, **body: Any) -> str:
    queued = path.mailer().accept(APP, "email", _request(**body))
    path.limiter = FakeLimiter()
    return queued.id


def test_the_worker_leaves_out_an_address_suppressed_since(path: SendPath) -> None:
    record_id = _queued(path, to=[JOHN, JANE])
    path.suppressions().add(JANE, Reason.BOUNCE)

    outcome = path.courier().process(path.queue.queued[-1].job, Deadline.after(30))

    assert outcome == Done(Status.SENT)
    assert path.outbox.only_message.envelope.recipients == [JOHN]
    record = path.records.get(record_id)
    assert (record.accepted, record.suppressed) == ([JOHN], [JANE])


def test_the_worker_fails_a_message_whose_every_recipient_is_suppressed_since(
    path: SendPath,
) -> None:
    record_id = _queued(path, to=JOHN)
    path.suppressions().add(JOHN, Reason.COMPLAINT, scope="email")

    outcome = path.courier().process(path.queue.queued[-1].job, Deadline.after(30))

    assert outcome == Done(Status.FAILED)
    assert path.outbox.handed == []
    record = path.records.get(record_id)
    assert (record.reason, record.suppressed) == ("all_recipients_suppressed", [JOHN])
    assert path.limiter.held(PROVIDER) == 0
