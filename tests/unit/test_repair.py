"""The outbox and its repair (`OutboxRepair`), over fakes: a record written for the queue holds
its job until a worker claims it, and a job lost on the way (the request died between the
record and SendMessage) is queued again after the grace period and delivered once."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from core.access.authentication import Principal
from core.access.model import Role
from core.delivery.attempt import Done, Hop
from core.delivery.job import OUTBOX_INLINE_BYTES, Job, body_of
from core.delivery.message_record import MessageRecord, Status
from core.delivery.repair import OutboxRepair
from core.send_request import parse_send_request
from core.settings import MAX_RECIPIENTS_LIMIT
from core.transport.base import Deadline
from tests.support.fake_delivery import FakeMessageQueue
from tests.support.fake_services import smtp_service
from tests.support.send_path import SendPath

KEY = "key-1"
ROLE = Role(name="app", services=["email"], senders=["*@example.com"])
GRACE = 300


class Killed(BaseException):
    """The request's process dies (a Lambda timeout, a kill): no handler runs after it."""


class DiesBeforeSqs(FakeMessageQueue):
    """A queue whose first SendMessage never happens: the process dies on the way."""

    def enqueue(self, job: Job, *, delay_seconds: int = 0) -> None:
        if not getattr(self, "died", False):
            self.died = True
            raise Killed
        super().enqueue(job, delay_seconds=delay_seconds)


@pytest.fixture
def path() -> SendPath:
    path = SendPath()
    path.services.add(smtp_service())
    path.keys[KEY] = Principal(KEY, ROLE)
    return path


def _accept(path: SendPath, **body: object) -> str:
    request = parse_send_request(
        {"to": "john@example.com", "body_text": "Hi", **body}, max_recipients=path.max_recipients
    )
    return path.mailer().accept(path.keys[KEY], "email", request).id


def _died_in_accept(path: SendPath) -> str:
    path.queue = DiesBeforeSqs()
    with pytest.raises(Killed):
        _accept(path)
    (record_id,) = path.records.records
    return record_id


def _repair(path: SendPath) -> list[str]:
    repair = OutboxRepair(path.records, path.queue, path.clock, grace_seconds=GRACE)
    return repair.run().requeued


def _deliver_all(path: SendPath) -> list[object]:
    outcomes: list[object] = []
    while path.queue.queued:
        outcomes.append(path.courier().process(path.queue.queued.pop(0).job, Deadline.after(30)))
    return outcomes


def test_the_record_holds_the_job_as_sqs_gets_it_until_a_worker_claims_it(
    path: SendPath,
) -> None:
    """The outbox is the SQS body itself, due now; the claim removes it (and the index keys)
    in the update it makes anyway, so no record keeps message content once claimed, and the
    API never shows it."""
    record_id = _accept(path)
    record = path.records.get(record_id)
    job = path.queue.only_job.job

    assert record.outbox == body_of(job)
    assert (record.outbox_shard, record.outbox_due) == (
        record_id[0],
        int(path.clock.now().timestamp()),
    )
    assert not {"outbox", "outbox_shard", "outbox_due"} & set(record.public())

    assert _deliver_all(path) == [Done(Status.SENT)]
    claimed = path.records.get(record_id)
    assert (claimed.outbox, claimed.outbox_shard, claimed.outbox_due) == (None, None, None)


def test_a_scheduled_job_is_due_at_its_send_at(path: SendPath) -> None:
    """A job delayed (or hopping to a send_at beyond SQS's 15 minutes) is not lost before its
    time: the repair looks at it only after send_at plus the grace."""
    send_at = (path.clock.now() + timedelta(hours=1)).replace(microsecond=0)
    record_id = _accept(path, send_at=send_at.isoformat())
    assert path.records.get(record_id).outbox_due == int(send_at.timestamp())

    path.queue.queued.clear()  # whatever the SQS copy does, the repair waits for send_at
    path.clock.advance(3600)
    assert _repair(path) == []
    path.clock.advance(GRACE + 1)
    assert _repair(path) == [record_id]


def test_a_request_that_died_before_sqs_is_repaired_and_delivered_once(path: SendPath) -> None:
    """The request died between its record and SendMessage: within the grace period the
    repair leaves it (a request may still be on its way), then queues its job, exactly the
    body SQS would have had, once; the worker delivers it, and the repair has nothing more."""
    record_id = _died_in_accept(path)
    held = path.records.get(record_id)
    assert held.status is Status.QUEUED

    path.clock.advance(GRACE - 1)
    assert _repair(path) == []
    path.clock.advance(2)
    assert _repair(path) == [record_id]
    assert _repair(path) == []  # postponed: not queued again at the next run
    assert body_of(path.queue.only_job.job) == held.outbox

    assert _deliver_all(path) == [Done(Status.SENT)]
    assert len(path.outbox.handed) == 1
    path.clock.advance(10 * GRACE)
    assert _repair(path) == []


def test_the_original_job_and_the_repaired_one_send_once(path: SendPath) -> None:
    """A job that was only slow (SQS took it, its answer got lost) and its repaired copy
    both reach the worker: the conditional claim lets one of them send."""
    record_id = _accept(path)
    path.clock.advance(GRACE + 1)
    assert _repair(path) == [record_id]
    assert len(path.queue.queued) == 2

    outcomes = _deliver_all(path)

    assert outcomes == [Done(Status.SENT), Done(Status.SENT)]
    assert len(path.outbox.handed) == 1


def test_a_job_still_unclaimed_is_queued_again_once_per_grace_period(path: SendPath) -> None:
    """A backlog longer than the grace period costs one more copy per period, no more."""
    record_id = _died_in_accept(path)
    path.clock.advance(GRACE + 1)
    assert _repair(path) == [record_id]
    path.clock.advance(GRACE - 1)
    assert _repair(path) == []
    path.clock.advance(2)
    assert _repair(path) == [record_id]


def test_two_repairs_of_one_snapshot_queue_it_once(path: SendPath) -> None:
    """Two repair runs that read the index at once: the due time moves on conditionally, so
    only one of them queues the job."""
    record_id = _died_in_accept(path)
    path.clock.advance(GRACE + 1)
    seen = path.records.due_outboxes(record_id[0], int(path.clock.now().timestamp()), limit=10)
    due = int(path.clock.now().timestamp()) + GRACE

    assert [path.records.postpone_outbox(record, due) for record in seen * 2] == [True, False]


def test_a_job_paced_by_the_provider_hops_without_its_outbox(path: SendPath) -> None:
    """A job held back by the provider's pace re-queues itself (a `Hop`): that copy is now the
    job, so the record lets go of it, or the repair would add a copy each grace period and
    every copy would hop on while the pace held."""
    record_id = _accept(path)
    path.limiter.refuse("service:email", retry_after=60)
    job = path.queue.only_job.job

    outcome = path.courier().process(job, Deadline.after(30))

    assert isinstance(outcome, Hop)
    assert path.records.get(record_id).outbox is None
    path.clock.advance(10 * GRACE)
    assert _repair(path) == []


def test_a_hop_whose_copy_was_not_queued_leaves_the_record_holding_its_job(
    path: SendPath,
) -> None:
    """The fresh copy is queued before the record lets go of the job: when the copy cannot
    be queued (or the worker dies before it is), the record still holds the job, this copy
    comes back, and the repair queues it again once its grace has passed."""
    record_id = _accept(path)
    path.limiter.refuse("service:email", retry_after=60)
    job = path.queue.only_job.job
    path.queue.refuse = RuntimeError("SQS down")

    with pytest.raises(RuntimeError, match="SQS down"):
        path.courier().process(job, Deadline.after(30))

    assert path.records.get(record_id).outbox is not None
    path.queue.refuse = None
    path.clock.advance(10 * GRACE)
    assert _repair(path) == [record_id]


def test_a_cancelled_or_abandoned_record_holds_no_job(path: SendPath) -> None:
    record_id = _accept(path)
    assert path.records.cancel(record_id).outbox is None
    path.queue = FakeMessageQueue(refuse=RuntimeError("SQS down"))
    with pytest.raises(Exception, match="send queue"):
        _accept(path)
    assert all(record.outbox is None for record in path.records.records.values())


def _item_bytes(record: MessageRecord) -> int:
    """DynamoDB's size of the stored item: each attribute's name and value, UTF-8."""
    item = record.model_dump(mode="json", exclude_none=True)
    return sum(len(name.encode()) + len(json.dumps(value).encode()) for name, value in item.items())


def test_a_record_holding_its_job_stays_small(path: SendPath) -> None:
    """A message over OUTBOX_INLINE_BYTES (here 130 KB, which SQS would carry) waits in S3
    from the start: the record holds a pointer, so it costs a few write units (twice:
    created, claimed) and, with the most recipients a message may have, stays far below
    DynamoDB's 400 KB item."""
    path.max_recipients = MAX_RECIPIENTS_LIMIT
    recipients = [f"{'r' * 54}{n:03d}@{'d' * 60}.example.com" for n in range(MAX_RECIPIENTS_LIMIT)]
    attachment = {"name": "a.bin", "content": base64.b64encode(b"x" * 100_000).decode()}
    path.max_message_bytes = 1_000_000
    big = _accept(path, to=recipients, attachments=[attachment])
    small = _accept(path, body_text="Hi " * 1000)

    big_record, small_record = path.records.get(big), path.records.get(small)
    assert big_record.outbox is not None
    assert len(big_record.outbox) < 2_000
    assert Job.model_validate_json(big_record.outbox).staged_message is not None
    assert _item_bytes(big_record) < 200_000
    assert small_record.outbox is not None
    assert Job.model_validate_json(small_record.outbox).message is not None
    assert _item_bytes(small_record) < OUTBOX_INLINE_BYTES + 4_000


def test_a_job_that_cannot_be_queued_holds_up_no_other(path: SendPath) -> None:
    """One record's job unreadable (or SQS refusing it): the others are queued all the same,
    and it is tried again after another grace period."""
    broken = _died_in_accept(path)
    path.records.records[broken] = path.records.get(broken).model_copy(update={"outbox": "{"})
    path.queue = FakeMessageQueue()
    fine = _accept(path)
    path.queue.queued.clear()  # its job lost too
    path.clock.advance(GRACE + 1)

    repaired = OutboxRepair(path.records, path.queue, path.clock, grace_seconds=GRACE).run()

    assert (repaired.requeued, repaired.failed) == ([fine], [broken])
    path.clock.advance(GRACE + 1)
    assert _repair(path) == [fine]  # still unclaimed: queued once more; the broken one fails
