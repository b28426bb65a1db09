"""One attempt at a queued message, and what to do after it (a worker's batch runs them:
`core.delivery.courier`).

Transient failures come back later with exponential backoff (at most 15 minutes apart), for
as long as the service's retry window lasts from the message's first attempt (a day unless
it says otherwise): an outage shorter than the window loses nothing, and a message still
deferred at its end is `failed` with `retries_exhausted` (its record says when it first and
last tried). Permanent failures are settled as `failed` with the server's reply. A
connection that closes or goes quiet after the final `.` of DATA leaves the outcome unknown,
and the service says what then: with `unknown_outcome: hold` (the default, at most once)
the message is settled as `unknown` and never resent; with `retry` (at least once, as MTAs
do) it comes back like a transient failure, a duplicate being the price, and is settled
`unknown`, never `failed`, however its window ends.
A duplicate SQS delivery of the same job finds the record already claimed or settled and
does nothing: no copy of a job makes an attempt of its own.

Each attempt sends as the job's key and role allow *now*: a message whose key was revoked or
disabled since (or whose role was deleted) is settled `cancelled` with reason `key_revoked`,
one its role no longer allows (the service, the sender, the number of recipients, the template
it was sent with, which the job carries) with `role_forbids`, and nothing goes out. An attempt that
hands nothing to the server gives the provider's allowance back.

Each attempt also reads the suppression list again: a recipient suppressed since the message
was accepted (it bounced elsewhere meanwhile) is left out and recorded in `suppressed`; with
nobody left, the message is settled `failed` with `all_recipients_suppressed` (`sent` when an
earlier attempt reached someone).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Unpack

from aws_lambda_powertools import Logger

from core.access import policy
from core.access.authentication import Principal
from core.access.reservation import Reservation
from core.admission import Admission
from core.composition.compose import compose
from core.delivery.deliver import Deliverer, outgoing
from core.delivery.handover_pace import MAX_WAIT_SECONDS as MAX_HANDOVER_WAIT_SECONDS
from core.delivery.handover_pace import is_paced, pace_at_handover
from core.delivery.job import MAX_DELAY_SECONDS, Job
from core.delivery.message_record import FINAL, WAITING, MessageRecord, RecordChanges, Status
from core.delivery.retry import DEFAULT_RETRY_WINDOW_MINUTES, backoff_seconds
from core.errors import (
    DeliveryFailure,
    DeliveryOutcomeUnknown,
    EmailApiError,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthorized,
)
from core.message import Message
from core.outbound import Sealed, seal
from core.ports import Clock, JobQueue, RecordStore, ServiceStore
from core.send_request import parse_send_request
from core.services.config import UnknownOutcome
from core.services.model import Service
from core.suppression.suppressions import Suppressions
from core.transport.base import Deadline, Outgoing

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
    """The job was queued again, `seconds` from now (a schedule beyond SQS's 15 minutes, a
    provider's pace, an invocation running out): delete this copy. Not an attempt, and not
    a redelivery."""

    seconds: int


Outcome = Done | RetryIn | Hop


@dataclass(frozen=True)
class Ready:
    """A job claimed for an attempt and sealed as its sender may send it now."""

    job: Job
    record: MessageRecord
    service: Service
    sealed: Sealed
    # The provider's unit taken for it: given back if nothing is handed to the server.
    allowance: Reservation | None


@dataclass(frozen=True)
class LookedAhead:
    """The next job of a batch, looked at (not claimed) before the one ahead of it is sent."""

    record: MessageRecord  # as it stood then
    sealed: Sealed
    outgoing: Outgoing  # what it would send, as its record stood then


# A job's key id -> the principal it acts as now; `Unauthorized` once it no longer may.
SenderResolver = Callable[[str], Principal]


@dataclass(frozen=True)
class RetryPolicy:
    """How long a transient failure is tried again (a service's own window, else
    `window_seconds`), how far apart, and at most how many times (None: no cap)."""

    max_attempts: int | None
    base_seconds: float
    window_seconds: int = DEFAULT_RETRY_WINDOW_MINUTES * 60

    def wait(self, record: MessageRecord, service: Service | None, now: datetime) -> int | None:
        """Seconds until `record`'s next attempt, or None when there is to be none: its
        attempts are used up, or the next one would start past its retry window."""
        if self.max_attempts is not None and record.attempts >= self.max_attempts:
            return None
        wait = backoff_seconds(record.attempts, self.base_seconds)
        window = self.window_seconds
        if service is not None and service.config.retry_window_minutes is not None:
            window = service.config.retry_window_minutes * 60
        first = datetime.fromisoformat(record.first_tried_at) if record.first_tried_at else now
        if (now - first).total_seconds() + wait > window:
            return None
        return wait


class Attempts:
    """One attempt at a job, and its outcome (see the module's docstring)."""

    def __init__(
        self,
        services: ServiceStore,
        admission: Admission,
        deliverer: Deliverer,
        records: RecordStore,
        queue: JobQueue,
        clock: Clock,
        *,
        sender_now: SenderResolver,
        suppressions: Suppressions,
        retries: RetryPolicy,
        lease_seconds: int,
        max_message_bytes: int,
        min_seconds_to_start: float = 0,
    ) -> None:
        self._services = services
        self._admission = admission
        self._deliverer = deliverer
        self._records = records
        self._queue = queue
        self._clock = clock
        self._sender_now = sender_now
        self._suppressions = suppressions
        self._retries = retries
        self._lease_seconds = lease_seconds
        self._max_message_bytes = max_message_bytes
        self._min_seconds_to_start = min_seconds_to_start

    def process(self, job: Job, deadline: Deadline, *, now: datetime | None = None) -> Outcome:
        """One attempt at `job` (as of `now`, by default the clock's), and what comes next."""
        step = self.prepare(job, deadline, now=now)
        return self.attempt(step, deadline) if isinstance(step, Ready) else step

    def look_ahead(self, job: Job | None, service: Service) -> LookedAhead | None:
        """`job`'s sealed bytes and envelope, if it is a message for `service` that may well
        go next; None otherwise (its own turn then does everything, as for any job). Only a
        job that carries its message: a staged (big) one gains nothing from a round trip."""
        if job is None or job.service != service.name or job.message is None:
            return None
        if job.send_at is not None:
            return None  # may have to wait: its turn decides
        try:
            record = self._records.get(job.id)
            if record.status not in WAITING:
                return None
            sealed = seal(job.message, max_bytes=self._max_message_bytes)
        except Exception:  # whatever it is, its own turn meets it and deals with it
            logger.debug("next message not looked at", extra={"record_id": job.id}, exc_info=True)
            return None
        return LookedAhead(record, sealed, outgoing(sealed, record.pending_recipients()))

    def come_back_later(self, job: Job, seconds: int) -> Outcome:
        """The job's own SQS message back in `seconds`, not an attempt (waiting for a
        connection, say); at once done with when its record is settled already. Not a fresh
        copy, as a pace wait's hop makes: a hop takes the record out of the repair's outbox,
        and a full CI run's kills once caught workers between the two, leaving messages
        `queued` until the killed copies' visibility ran out. The worker turns a message
        received many times into a fresh copy anyway."""
        try:
            current = self._records.get(job.id)
        except NotFound:
            logger.error("job without a message record: dropped", extra={"record_id": job.id})
            return Done(None)
        if current.status in FINAL:
            return self._not_claimed(job)
        return RetryIn(seconds)

    def prepare(
        self,
        job: Job,
        deadline: Deadline,
        *,
        now: datetime | None = None,
        ahead: LookedAhead | None = None,
    ) -> Ready | Outcome:
        """Everything before the SMTP exchange: the schedule, the record's claim, the sender's
        rights now, the message sealed. A job looked at `ahead` is not read or sealed again:
        the claim, which is conditional, still has the last word on its state.
        `Ready` for an attempt, or the outcome without one."""
        now = now or self._clock.now()
        if job.send_at is not None:
            wait = (datetime.fromisoformat(job.send_at) - now).total_seconds()
            if wait >= 1:
                return self._hop(job, None, round(wait))
        try:
            current = ahead.record if ahead else self._records.get(job.id)
        except NotFound:
            # Every job is queued after its record is written; one without is not ours.
            logger.error("job without a message record: dropped", extra={"record_id": job.id})
            return Done(None)
        if current.status in FINAL:
            return self._not_claimed(job)  # a duplicate delivery, or a cancelled message
        if deadline.remaining() < self._min_seconds_to_start:
            # Earlier messages of the batch used up this invocation: a fresh copy goes to the
            # next one, rather than an attempt doomed to time out.
            return self._hop(job, current, 0)
        # Read once per attempt: the pace, the checks and the transport all use this copy.
        service: Service | EmailApiError
        try:
            service = self._services.by_name(job.service)
        except EmailApiError as gone:
            service = gone  # the attempt below settles the message as failed
        allowance: Reservation | None = None
        if isinstance(service, Service) and is_paced(service):
            # Its unit is taken at the handover (see `core.delivery.handover_pace`); a job its
            # windows would keep waiting long comes back later instead.
            wait = self._admission.provider_wait(service)
            if wait > MAX_HANDOVER_WAIT_SECONDS:
                return self._hop(job, current, math.ceil(wait))
        elif isinstance(service, Service):
            try:
                # Pace to the provider's limits before claiming: waiting is not an attempt,
                # and a fresh copy (not a redelivery) keeps it from counting as a dead letter.
                allowance = self._admission.take_provider(service)
            except RateLimited as limited:
                return self._hop(job, current, limited.retry_after)
        record = self._records.claim(job.id, self._lease_seconds, at=now)
        if record is None:
            if allowance is not None:
                allowance.release()  # someone else has (or had) it: this copy sends nothing
            return self._not_claimed(job)
        try:
            ready = self._ready(job, record, service, ahead.sealed if ahead else None)
        except Exception:
            known = service if isinstance(service, Service) else None
            return self._interrupted(job, record, allowance, known)
        if not isinstance(ready, tuple):
            if allowance is not None:
                allowance.release()  # nothing goes to the provider
            return ready
        return Ready(job, record, *ready, allowance)

    def _hop(self, job: Job, current: MessageRecord | None, seconds: int) -> Hop:
        """Queue a fresh copy of the job: from now on that copy is the message's job, so the
        record no longer holds it (a repair would add a copy every time it looked, each one
        hopping on while the provider's pace holds it back). The copy is queued first and
        the record let go of it after: a worker killed between the two leaves the record
        holding its job, and the repair queues it again (a duplicate, which the claim makes
        harmless), rather than a record that holds no job while its only copy sits out the
        queue's visibility timeout. A copy that could not be queued raises: this one comes
        back."""
        delay = min(seconds, MAX_DELAY_SECONDS)
        self._queue.enqueue(job, delay_seconds=delay)
        if current is not None and current.outbox_shard is not None:
            self._records.release_outbox(current.id)
        return Hop(delay)

    def attempt(self, ready: Ready, deadline: Deadline, *, then: Outgoing | None = None) -> Outcome:
        """The SMTP exchange for a prepared job, and its outcome settled; `then` is the next
        message for the same service, when the caller has it (see `process_each`)."""
        try:
            return self._attempt(ready, deadline, then)
        except Exception:
            return self._interrupted(ready.job, ready.record, ready.allowance, ready.service)

    def _interrupted(
        self,
        job: Job,
        record: MessageRecord,
        allowance: Reservation | None,
        service: Service | None,
    ) -> Outcome:
        """An attempt that failed for no reason of the server's: the credentials or the
        staged message could not be read, say. The transport turns every failure of the
        conversation into a `DeliveryFailure`, so nothing was handed over: the message comes
        back, rather than wait out its lease and be taken for one that may have gone."""
        logger.exception("attempt failed before the SMTP exchange", extra={"record_id": job.id})
        if allowance is not None:
            allowance.release()
        if (wait := self._retries.wait(record, service, self._clock.now())) is not None:
            return self._defer(job, wait, reason="internal_error")
        return self._settle(job, self._failed_unless_out(record), reason="internal_error")

    def _ready(
        self,
        job: Job,
        record: MessageRecord,
        service: Service | EmailApiError,
        sealed: Sealed | None,
    ) -> tuple[Service, Sealed] | Outcome:
        """The message as its sender may send it now, or the outcome that settles it unsent."""
        try:
            sender = self._sender_now(job.key_id)
        except Unauthorized:
            return self._cancel(job, "key_revoked", f"API key '{job.key_id}' no longer acts.")
        try:
            policy.check_service(sender.role, job.service)
            policy.check_queued_template(sender.role, job.template)
            if not isinstance(service, Service):
                raise service  # gone since the message was accepted: settled as failed
            if not service.is_active:
                return self._cancel(job, "service_inactive", f"Service '{job.service}' is off.")
            message = sealed.message if sealed else self._message_of(job, record, service)
            self._admission.check_recipient_count(service, len(message.envelope_recipients()))
            self._admission.check_message(sender, service, message)
            return service, sealed or seal(message, max_bytes=self._max_message_bytes)
        except Forbidden as error:
            return self._cancel(job, "role_forbids", error.message)
        except EmailApiError as error:
            # Valid when accepted, not now (the service was deleted, say): nothing to retry.
            return self._settle(job, Status.FAILED, reason=error.reason, reply=error.message)

    def _message_of(self, job: Job, record: MessageRecord, service: Service) -> Message:
        """The composed message the job carries; a job queued by an earlier version carries
        its request instead, composed here as that version did (its Message-ID kept, and
        dated when it was accepted, so every attempt is the same message)."""
        legacy = self._queue.legacy_request_of(job)
        if legacy is None:
            return self._queue.message_of(job)
        accepted_at = datetime.fromisoformat(record.created_at) if record.created_at else None
        message = compose(
            parse_send_request(legacy),
            service,
            now=accepted_at or self._clock.now(),
            size_limit=self._max_message_bytes,
        )
        return message.model_copy(update={"message_id": job.message_id or message.message_id})

    def _attempt(self, ready: Ready, deadline: Deadline, then: Outgoing | None) -> Outcome:
        job, record, service = ready.job, ready.record, ready.service
        screened = self._suppressions.screen(service.name, record.pending_recipients())
        # Every settle below keeps them: those of earlier attempts, and any found now.
        suppressed = [*record.suppressed, *screened.suppressed]
        if not screened.kept:
            if ready.allowance is not None:
                ready.allowance.release()  # nothing goes to the provider
            if record.accepted:
                return self._settle(job, Status.SENT, suppressed=suppressed)
            status = self._failed_unless_out(record)
            return self._settle(
                job, status, reason="all_recipients_suppressed", suppressed=suppressed
            )
        try:
            delivery = self._deliverer.deliver(
                service,
                ready.sealed,
                screened.kept,
                deadline,
                then=then,
                handover=(
                    pace_at_handover(self._admission, service, deadline)
                    if is_paced(service)
                    else None
                ),
            )
        except DeliveryOutcomeUnknown as error:
            resend = service.config.unknown_outcome is UnknownOutcome.RETRY
            if resend and (wait := self._wait(record, service)) is not None:
                return self._defer(
                    job,
                    wait,
                    reason=error.reason,
                    reply=error.message,
                    may_have_gone=True,
                    suppressed=suppressed,
                )
            # Held, or out of time: the last attempt may have gone, so it is not `failed`.
            return self._settle(
                job, Status.UNKNOWN, reason=error.reason, reply=error.message, suppressed=suppressed
            )
        except DeliveryFailure as error:
            if error.transient and (wait := self._wait(record, service)) is not None:
                return self._defer(
                    job, wait, reason=error.reason, reply=error.message, suppressed=suppressed
                )
            reason = error.reason if not error.transient else "retries_exhausted"
            return self._settle(
                job,
                self._failed_unless_out(record),
                reason=reason,
                reply=error.message,
                suppressed=suppressed,
            )

        accepted = [*record.accepted, *delivery.accepted]
        refused = {**record.refused, **delivery.refused}
        if delivery.deferred and (wait := self._wait(record, service)) is not None:
            # 452 for some recipients: the next attempt goes only to them.
            self._records.settle(
                job.id,
                Status.DEFERRED,
                accepted=accepted,
                refused=refused,
                deferred=delivery.deferred,
                reply=next(iter(delivery.deferred.values())),
                suppressed=suppressed,
            )
            return RetryIn(wait)
        refused.update(delivery.deferred)  # out of time: they will not get it
        status = Status.SENT if accepted else self._failed_unless_out(record)
        return self._settle(
            job,
            status,
            accepted=accepted,
            refused=refused,
            deferred={},
            reply=delivery.reply,
            provider_message_id=delivery.provider_message_id,
            reason=None if accepted else "all_recipients_refused",
            suppressed=suppressed,
        )

    @staticmethod
    def _failed_unless_out(record: MessageRecord) -> Status:
        """`failed`, unless an earlier attempt may have delivered it: then `unknown`."""
        return Status.UNKNOWN if record.may_have_gone else Status.FAILED

    def _cancel(self, job: Job, reason: str, why: str) -> Outcome:
        """Its sender may no longer send it: settle it unsent, and drop its staged body."""
        logger.info("message cancelled", extra={"record_id": job.id, "reason": reason, "why": why})
        return self._settle(job, Status.CANCELLED, reason=reason)

    def _wait(self, record: MessageRecord, service: Service) -> int | None:
        """Seconds until the next attempt; None when the message is out of time (or tries)."""
        return self._retries.wait(record, service, self._clock.now())

    def _defer(self, job: Job, wait: int, **changes: Unpack[RecordChanges]) -> Outcome:
        self._records.settle(job.id, Status.DEFERRED, **changes)
        return RetryIn(wait)

    def _settle(self, job: Job, status: Status, **changes: Unpack[RecordChanges]) -> Outcome:
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
            now = int(self._clock.now().timestamp())
            return RetryIn(max(1, (current.lease_until or 0) - now))
        return RetryIn(1)
