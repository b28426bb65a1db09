"""The worker's side of a queued message: one attempt, and what to do after it.

Transient failures come back later with exponential backoff (as SQS redeliveries); permanent
ones are settled as `failed` with the server's reply. A connection that closes or goes quiet
after the final `.` of DATA leaves the outcome unknown, and the service says what then: with
`unknown_outcome: hold` (the default, at most once) the message is settled as `unknown` and
never resent; with `retry` (at least once, as MTAs do) it comes back like a transient failure,
a duplicate being the price, and is settled `unknown` if its last attempt ends that way too.
A duplicate SQS delivery of the same job finds the record already claimed or settled and
does nothing: no copy of a job makes an attempt of its own.

Each attempt sends as the job's key and role allow *now*: a message whose key was revoked or
disabled since (or whose role was deleted) is settled `cancelled` with reason `key_revoked`,
one its role no longer allows with `role_forbids`, and nothing goes out. An attempt that
hands nothing to the server gives the provider's allowance back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from core.access.authentication import Principal
from core.access.rate_limit import Reservation
from core.delivery.queue import MAX_DELAY_SECONDS, Job, MessageQueue
from core.delivery.records import FINAL, MessageRecord, MessageRepository, Status
from core.delivery.retry import backoff_seconds
from core.errors import (
    EmailApiError,
    Forbidden,
    NotFound,
    RateLimited,
    SmtpFailure,
    SmtpOutcomeUnknown,
    Unauthorized,
)
from core.send_request import parse_send_request
from core.sending import Mailer, Prepared
from core.services.model import UnknownOutcome
from core.services.repository import ServiceRepository
from core.transport.base import Deadline

logger = Logger(child=True)


@dataclass(frozen=True)
class Done:
    """Nothing more to do with this SQS message: delete it."""

    status: Status | None


@dataclass(frozen=True)
class RetryIn:
    """Leave the SQS message to come back after `seconds` (a batch item failure)."""

    seconds: int


@dataclass(frozen=True)
class Hop:
    """Re-queue the job with a delay and delete this copy: for a schedule beyond SQS's 15
    minutes, or a provider's pace. Not an attempt, and not a redelivery."""

    seconds: int


Outcome = Done | RetryIn | Hop

# A job's key id -> the principal it acts as now; `Unauthorized` once it no longer may.
SenderResolver = Callable[[str], Principal]


class Courier:
    def __init__(
        self,
        mailer: Mailer,
        services: ServiceRepository,
        records: MessageRepository,
        queue: MessageQueue,
        *,
        sender_now: SenderResolver,
        max_attempts: int,
        retry_base_seconds: float,
        lease_seconds: int,
        min_seconds_to_start: float = 0,
    ) -> None:
        self._mailer = mailer
        self._services = services
        self._records = records
        self._queue = queue
        self._sender_now = sender_now
        self._max_attempts = max_attempts
        self._retry_base_seconds = retry_base_seconds
        self._lease_seconds = lease_seconds
        self._min_seconds_to_start = min_seconds_to_start

    def process(self, job: Job, deadline: Deadline, *, now: datetime | None = None) -> Outcome:
        now = now or datetime.now(UTC)
        if job.send_at is not None:
            wait = (datetime.fromisoformat(job.send_at) - now).total_seconds()
            if wait >= 1:
                return Hop(min(round(wait), MAX_DELAY_SECONDS))
        try:
            current = self._records.get(job.id)
        except NotFound:
            # Every job is queued after its record is written; one without is not ours.
            logger.error("job without a message record: dropped", extra={"record_id": job.id})
            return Done(None)
        if current.status in FINAL:
            return self._not_claimed(job)  # a duplicate delivery, or a cancelled message
        if deadline.remaining() < self._min_seconds_to_start:
            # Earlier messages of the batch used up this invocation: a fresh copy goes to the
            # next one, rather than an attempt doomed to time out.
            return Hop(0)
        allowance: Reservation | None = None
        try:
            # Pace to the provider's limits before claiming: waiting is not an attempt, and
            # a fresh copy (not a redelivery) keeps it from counting toward the dead letters.
            allowance = self._mailer.take_provider_allowance(self._services.get(job.service))
        except RateLimited as limited:
            return Hop(min(limited.retry_after, MAX_DELAY_SECONDS))
        except EmailApiError:
            pass  # the service is gone: the attempt below settles the message as failed
        record = self._records.claim(job.id, self._lease_seconds)
        if record is None:
            if allowance is not None:
                allowance.release()  # someone else has (or had) it: this copy sends nothing
            return self._not_claimed(job)
        prepared = self._prepare(job)
        if not isinstance(prepared, Prepared):
            if allowance is not None:
                allowance.release()  # nothing goes to the provider
            return prepared
        return self._attempt(job, record, prepared, deadline)

    def _prepare(self, job: Job) -> Prepared | Outcome:
        """The message as its sender may send it now, or the outcome that settles it unsent."""
        try:
            sender = self._sender_now(job.key_id)
        except Unauthorized:
            return self._cancel(job, "key_revoked", f"API key '{job.key_id}' no longer acts.")
        try:
            request = parse_send_request(self._queue.request_of(job))
            return self._mailer.prepare(sender, job.service, request, message_id=job.message_id)
        except Forbidden as error:
            return self._cancel(job, "role_forbids", error.message)
        except EmailApiError as error:
            # Valid when accepted, not now (the service was deleted, say): nothing to retry.
            return self._settle(job, Status.FAILED, reason=error.reason, smtp_reply=error.message)

    def _attempt(
        self, job: Job, record: MessageRecord, prepared: Prepared, deadline: Deadline
    ) -> Outcome:
        try:
            delivery = self._mailer.deliver(prepared, record.pending_recipients(), deadline)
        except SmtpOutcomeUnknown as error:
            resend = prepared.service.config.unknown_outcome is UnknownOutcome.RETRY
            if resend and record.attempts < self._max_attempts:
                return self._defer(
                    job, record, reason=error.reason, smtp_reply=error.message, may_have_gone=True
                )
            # Held, or out of attempts: the last one may have gone, so it is not `failed`.
            return self._settle(job, Status.UNKNOWN, reason=error.reason, smtp_reply=error.message)
        except SmtpFailure as error:
            if error.transient and record.attempts < self._max_attempts:
                return self._defer(job, record, reason=error.reason, smtp_reply=error.message)
            reason = error.reason if not error.transient else "retries_exhausted"
            return self._settle(
                job, self._failed_unless_out(record), reason=reason, smtp_reply=error.message
            )

        accepted = [*record.accepted, *delivery.accepted]
        refused = {**record.refused, **delivery.refused}
        if delivery.deferred and record.attempts < self._max_attempts:
            # 452 for some recipients: the next attempt goes only to them.
            self._records.settle(
                job.id,
                Status.DEFERRED,
                accepted=accepted,
                refused=refused,
                deferred=delivery.deferred,
                smtp_reply=next(iter(delivery.deferred.values())),
            )
            return RetryIn(backoff_seconds(record.attempts, self._retry_base_seconds))
        refused.update(delivery.deferred)  # out of attempts: they will not get it
        status = Status.SENT if accepted else self._failed_unless_out(record)
        return self._settle(
            job,
            status,
            accepted=accepted,
            refused=refused,
            deferred={},
            smtp_reply=delivery.reply,
            reason=None if accepted else "all_recipients_refused",
        )

    @staticmethod
    def _failed_unless_out(record: MessageRecord) -> Status:
        """`failed`, unless an earlier attempt may have delivered it: then `unknown`."""
        return Status.UNKNOWN if record.may_have_gone else Status.FAILED

    def _cancel(self, job: Job, reason: str, why: str) -> Outcome:
        """Its sender may no longer send it: settle it unsent, and drop its staged body."""
        logger.info("message cancelled", extra={"record_id": job.id, "reason": reason, "why": why})
        return self._settle(job, Status.CANCELLED, reason=reason)

    def _defer(self, job: Job, record: MessageRecord, **changes: object) -> Outcome:
        self._records.settle(job.id, Status.DEFERRED, **changes)
        return RetryIn(backoff_seconds(record.attempts, self._retry_base_seconds))

    def _settle(self, job: Job, status: Status, **changes: object) -> Outcome:
        record = self._records.settle(job.id, status, **changes)
        self._queue.discard_staged(job)
        logger.info(
            "message settled",
            extra={"record_id": job.id, "status": status.value, "attempts": record.attempts},
        )
        return Done(status)

    def _not_claimed(self, job: Job) -> Outcome:
        """A duplicate delivery, a cancelled message, or a worker that died mid-send."""
        current = self._records.get(job.id)
        if current.status in FINAL:
            self._queue.discard_staged(job)
            return Done(current.status)
        if current.status is Status.SENDING:
            settled = self._records.expire_lease(job.id)
            if settled is not None:
                self._queue.discard_staged(job)
                return Done(settled.status)
            # Someone holds it right now; come back when their lease is over.
            return RetryIn(max(1, (current.lease_until or 0) - int(datetime.now(UTC).timestamp())))
        return RetryIn(1)
