"""Sending one message from the API: at once, or into the queue, or only previewed.

Every way goes in the same order, so that a request is refused before any work is done for it
(issue 16): `authorize` (the role may use the service, the template, the sender and reply-to
the message will have, its recipient count: all known without composing), then the caller's
allowance (`send` takes the role's and the provider's rate limits, `accept` and `preview` the
role's), then `admit`: fetch what the request names by URL, compose, check the size and the
built bytes, and the suppression list (recipients on it leave the envelope; with nobody left,
a 422). `send` then delivers, `accept` queues the composed message for the worker; both
keep a status record.

What a request that fails after its allowance was taken (a 400 at composing, a failed fetch)
leaves: the role's allowance stays used, since it bounds the work a key can cause and that work
was done; the provider's is given back, since nothing reached the provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from aws_lambda_powertools import Logger

from core.access import policy
from core.access.authentication import Principal
from core.access.model import Role
from core.access.reservation import Reservation
from core.admission import Admission, check_active
from core.composition.compose import addressing as compose_addressing
from core.composition.compose import attachment_references, compose
from core.composition.jinja.limits import RenderLimits
from core.composition.placeholder_limits import PlaceholderLimits
from core.concurrency import in_parallel
from core.delivery.deliver import Deliverer
from core.delivery.job import OUTBOX_INLINE_BYTES, Job, body_of
from core.delivery.message_record import ENQUEUE_FAILED, MessageRecord, Status, new_record_id
from core.errors import (
    DeliveryFailure,
    DeliveryOutcomeUnknown,
    NotFound,
    QueueUnavailable,
    RateLimited,
)
from core.observability.logs import correlate
from core.outbound import Sealed, seal
from core.outcomes import Queued, Sent
from core.ports import (
    AttachmentSource,
    Clock,
    JobQueue,
    RecordStore,
    ServiceStore,
    TemplateStore,
)
from core.preview import Previewed, describe
from core.send_request import SendRequest
from core.services.model import Service
from core.suppression.suppressions import Screened, Suppressions
from core.templates.model import EmailTemplate
from core.transport.base import Deadline, Delivery

logger = Logger(child=True)


@dataclass(frozen=True)
class Authorized:
    """A request its caller's role allows, with the service and template it names."""

    service: Service
    template: EmailTemplate | None
    request: SendRequest


@dataclass(frozen=True)
class _Staged:
    """A message whose job is staged and record written: all but the enqueue."""

    job: Job
    delay: int
    allowance: Reservation
    record: MessageRecord

    def answer(self) -> Queued:
        record = self.record
        return Queued(
            id=record.id,
            message_id=record.message_id,
            status=record.status.value,
            send_at=record.send_at,
            suppressed=record.suppressed,
            quota=self.allowance.quota,
        )


@dataclass(frozen=True)
class _Held:
    """A request authorized, with the role's allowance taken for it."""

    authorized: Authorized
    allowance: Reservation


@dataclass(frozen=True)
class _Refused:
    """A request authorized, that the role's rate limits refused."""

    authorized: Authorized
    error: RateLimited


def _first_come_first_served(answers: list[Queued | _Held | _Refused | Exception]) -> None:
    """Taken side by side, the role's allowances fell to whichever items asked first; give
    them to the first items in order instead (in place), as taking them in turn would."""
    asked = [index for index, answer in enumerate(answers) if isinstance(answer, _Held | _Refused)]
    allowances = [answer.allowance for answer in answers if isinstance(answer, _Held)]
    refusals = [answer.error for answer in answers if isinstance(answer, _Refused)]
    for place, index in enumerate(asked):
        answer = answers[index]
        assert isinstance(answer, _Held | _Refused)
        if place < len(allowances):
            answers[index] = _Held(answer.authorized, allowances[place])
        else:
            answers[index] = _Refused(answer.authorized, refusals[place - len(allowances)])


@dataclass(frozen=True)
class Admitted:
    """A message that passed every check, ready to go to the server or to the queue."""

    service: Service
    sealed: Sealed
    # The envelope's recipients as the suppression list leaves them.
    screened: Screened


class Mailer:
    def __init__(
        self,
        services: ServiceStore,
        templates: TemplateStore,
        attachments: AttachmentSource,
        admission: Admission,
        deliverer: Deliverer,
        records: RecordStore,
        queue: JobQueue,
        clock: Clock,
        *,
        suppressions: Suppressions,
        max_message_bytes: int,
        placeholder_limits: PlaceholderLimits | None = None,
        render_limits: RenderLimits | None = None,
    ) -> None:
        self._services = services
        self._templates = templates
        self._attachments = attachments
        self._admission = admission
        self._deliverer = deliverer
        self._records = records
        self._queue = queue
        self._clock = clock
        self._suppressions = suppressions
        self._max_message_bytes = max_message_bytes
        self._placeholder_limits = placeholder_limits or PlaceholderLimits()
        self._render_limits = render_limits or RenderLimits()

    def authorize(self, caller: Principal, service_name: str, request: SendRequest) -> Authorized:
        """Everything the caller's role decides, cheapest first, before any work is done for
        the request: nothing is fetched or rendered for a request its role refuses."""
        # Before the service is looked up, so a role cannot probe which names exist.
        policy.check_service(caller.role, service_name)
        # Before any value is looked at again: their number and size bound all that follows.
        self._placeholder_limits.check(request)
        service = self._services.by_name(service_name)
        check_active(service)
        template = self._template_for(caller.role, request)
        # The request's own recipients before any work on them; with the template's after.
        self._admission.check_recipient_count(service, len(request.envelope_recipients()))
        addressing = compose_addressing(request, service, template)
        self._admission.check_recipient_count(service, len(addressing.recipients))
        self._admission.check_addressing(caller, service, addressing)
        return Authorized(service, template, request)

    def admit(self, caller: Principal, authorized: Authorized) -> Admitted:
        """The work: fetch what the request names by URL, compose, check and seal. Only after
        `authorize` and the caller's allowance."""
        request, service, template = authorized.request, authorized.service, authorized.template
        references = attachment_references(request, template)
        inline = sum(len(attachment.content) for attachment in request.attachments)
        fetched = (
            self._attachments(references, budget=self._max_message_bytes - inline)
            if references
            else []
        )
        message = compose(
            request,
            service,
            template=template,
            fetched=fetched,
            now=self._clock.now(),
            size_limit=self._max_message_bytes,
            render_limits=self._render_limits,
        )
        # What `authorize` judged, judged again on the message itself.
        self._admission.check_recipient_count(service, len(message.envelope_recipients()))
        self._admission.check_message(caller, service, message)
        sealed = seal(message, max_bytes=self._max_message_bytes)
        # Suppressed recipients leave the envelope only: the headers keep them as the sender
        # wrote them, as SES and Postmark do, so the message the others get is the one sent
        # (a Cc list that silently lost a name would tell them something false).
        screened = self._suppressions.screen(service.name, message.envelope_recipients())
        self._suppressions.check_any_left(screened)
        return Admitted(service, sealed, screened)

    def _template_for(self, role: Role, request: SendRequest) -> EmailTemplate | None:
        """The template the request names, if the role may send with it and as it asks."""
        policy.check_template_request(role, request)
        try:
            template = self._template_of(request)
        except NotFound:
            if policy.limited_to_templates(role):
                raise policy.template_forbidden(request) from None
            raise
        if template is not None:
            policy.check_template(role, request, template)
        return template

    def _template_of(self, request: SendRequest) -> EmailTemplate | None:
        """The stored template the request names (by name, else by id), or None."""
        if request.template is not None:
            return self._templates.by_name(request.template)
        if request.template_id is not None:
            return self._templates.by_id(request.template_id)
        return None

    def preview(self, caller: Principal, service_name: str, request: SendRequest) -> Previewed:
        """Every check a send gets, and the message it would send; nothing is sent and no
        record is kept, but the work counts against the role's allowance as a send does."""
        authorized = self.authorize(caller, service_name, request)
        allowance = self._admission.take_role(caller)
        admitted = self.admit(caller, authorized)
        return Previewed(describe(admitted.service.name, admitted.sealed), allowance.quota)

    def send(
        self, caller: Principal, service_name: str, request: SendRequest, deadline: Deadline
    ) -> Sent:
        """Deliver now. Every check, and both rate limits, come before any work or connection;
        a synchronous caller gets any SMTP error and decides: nothing is retried for it."""
        authorized = self.authorize(caller, service_name, request)
        allowance = self._admission.take(caller, authorized.service)
        try:
            admitted = self.admit(caller, authorized)
        except BaseException:
            # The work was done (it counts for the role), but nothing reached the provider.
            allowance.release_provider()
            raise
        message = admitted.sealed.message
        try:
            record = self._new_record(caller, admitted, Status.SENDING, attempts=1)
        except BaseException:
            allowance.release()
            raise
        try:
            delivery = self._deliverer.deliver(
                admitted.service, admitted.sealed, admitted.screened.kept, deadline
            )
        except DeliveryFailure as error:
            outcome = Status.UNKNOWN if isinstance(error, DeliveryOutcomeUnknown) else Status.FAILED
            self._records.settle(record.id, outcome, reason=error.reason, reply=error.message)
            raise
        except Exception:
            # Before any SMTP exchange (credentials unreadable, say): nothing went out, so
            # the request used none of its limits.
            allowance.release()
            self._records.settle(record.id, Status.FAILED, reason="internal_error")
            raise
        self._settle_sent(record, delivery)
        return Sent(
            id=record.id,
            message_id=message.message_id,
            accepted=delivery.accepted,
            refused={**delivery.refused, **delivery.deferred},
            suppressed=admitted.screened.suppressed,
            quota=allowance.quota,
        )

    def accept(
        self,
        caller: Principal,
        service_name: str,
        request: SendRequest,
        *,
        record_id: str | None = None,
    ) -> Queued:
        """Queue for the worker, after exactly the checks a synchronous send gets. The job
        carries the composed message, so the worker sends what was checked here. A
        `record_id` (an Idempotency-Key's) that is already taken answers that message
        instead, unless the queue refused it: then it is queued anew under that id."""
        staged = self._stage(caller, service_name, request, record_id)
        if isinstance(staged, Queued):
            return staged
        try:
            self._queue.enqueue(staged.job, delay_seconds=staged.delay)
        except Exception as error:
            logger.exception("SendMessage failed", extra={"record_id": staged.job.id})
            unavailable = self._not_queued(staged)
            if unavailable is not None:
                raise unavailable from error
        return staged.answer()

    def accept_many(
        self,
        caller: Principal,
        service_name: str,
        requests: Sequence[tuple[SendRequest, str | None]],
    ) -> list[Queued | Exception]:
        """`accept` for each (request, record_id), in order, their jobs queued several to a
        call: each answer is its `Queued`, or the error `accept` would have raised.

        The items' AWS calls (a record is a conditional put of its own, the role's windows
        an atomic update each, the suppressions a read) go `AWS_CALLS_AT_ONCE` at a time: 500
        items one after another would wait through some 3,000 round trips to DynamoDB, past
        API Gateway's 29 s at 10 ms each. The role's allowance still goes to the first items
        in order: if only k of them got one, the first k that asked have them (allowances of
        one role are alike), and those after fail with the 429, as in turn."""
        held = in_parallel(
            [partial(self._held_or_error, caller, service_name, *item) for item in requests]
        )
        _first_come_first_served(held)
        answers = in_parallel(
            [
                partial(self._staged_or_error, caller, answer, record_id)
                for answer, (_request, record_id) in zip(held, requests, strict=True)
            ]
        )
        staged = [answer for answer in answers if isinstance(answer, _Staged)]
        refused = (
            self._queue.enqueue_many([(each.job, each.delay) for each in staged])
            if staged
            else set()
        )
        return [
            self._queued_or_not(answer, refused) if isinstance(answer, _Staged) else answer
            for answer in answers
        ]

    def _queued_or_not(self, staged: _Staged, refused: set[str]) -> Queued | Exception:
        if staged.job.id in refused:
            unavailable = self._not_queued(staged)
            if unavailable is not None:
                return unavailable
        return staged.answer()

    def _stage(
        self,
        caller: Principal,
        service_name: str,
        request: SendRequest,
        record_id: str | None,
    ) -> Queued | _Staged:
        """Every check, the role's allowance, the job staged and its record written (holding
        the job, for the repair to queue if this request dies): all but the enqueue. An
        earlier message under `record_id` is answered instead."""
        held = self._held_or_error(caller, service_name, request, record_id)
        if isinstance(held, _Refused):
            raise held.error
        if isinstance(held, Exception):
            raise held
        if isinstance(held, Queued):
            return held
        return self._staged(caller, held, record_id)

    def _held_or_error(
        self,
        caller: Principal,
        service_name: str,
        request: SendRequest,
        record_id: str | None,
    ) -> Queued | _Held | _Refused | Exception:
        """The answer under `record_id` if there is one; else the request authorized, and the
        role's allowance taken for it. What is raised is the item's answer; a refusal by the
        role's rate limits keeps its authorization (it may yet get another item's allowance)."""
        try:
            authorized: Authorized | None = None
            if record_id is not None and (earlier := self._earlier(record_id)) is not None:
                return earlier
            authorized = self.authorize(caller, service_name, request)
            return _Held(authorized, self._admission.take_role(caller))
        except RateLimited as refused:
            return _Refused(authorized, refused) if authorized is not None else refused
        except Exception as error:  # the item's own answer; the others go on
            return error

    def _staged_or_error(
        self,
        caller: Principal,
        held: Queued | _Held | _Refused | Exception,
        record_id: str | None,
    ) -> Queued | _Staged | Exception:
        if isinstance(held, _Refused):
            return held.error
        if not isinstance(held, _Held):
            return held
        try:
            return self._staged(caller, held, record_id)
        except Exception as error:  # the item's own answer; the others go on
            return error

    def _staged(self, caller: Principal, held: _Held, record_id: str | None) -> _Staged:
        """The work for a held request: composed, checked, staged and recorded."""
        authorized, allowance = held.authorized, held.allowance
        request, service_name = authorized.request, authorized.service.name
        # A failure from here on keeps the allowance: the work was done (see `send`).
        admitted = self.admit(caller, authorized)
        send_at = request.send_at
        delay = 0
        if send_at is not None:
            delay = max(0, round((send_at - self._clock.now()).total_seconds()))
        scheduled = send_at.isoformat(timespec="seconds") if send_at else None
        job = Job(
            id=record_id or new_record_id(),
            service=service_name,
            key_id=caller.key_id,
            send_at=scheduled,
            template=authorized.template.name if authorized.template else None,
            message=admitted.sealed.message,
        )
        try:
            # Staged before the record is written, so the record can hold the job exactly as
            # SQS will get it (its outbox), for the repair to queue if this request dies; a
            # record is billed by the KB, so only a small message stays in the job.
            job = self._queue.stage(job, inline_limit=OUTBOX_INLINE_BYTES)
            due = int(self._clock.now().timestamp()) + delay
            record = self._new_record(
                caller,
                admitted,
                Status.SCHEDULED if delay else Status.QUEUED,
                record_id=job.id,
                send_at=scheduled,
                outbox=(body_of(job), due),
                over_abandoned=record_id is not None,
            )
        except BaseException:
            allowance.release()  # nothing was queued: the request used nothing
            raise
        return _Staged(job, delay, allowance, record)

    def _not_queued(self, staged: _Staged) -> QueueUnavailable | None:
        """After the queue refused `staged`'s job (the SQS client has already retried a
        throttle or a 5xx): its record settled `failed`, so that none stays `queued` with no
        job, and the 503 telling the caller to send again; None if a worker claimed it
        meanwhile (SQS took the job and only its answer was lost)."""
        job = staged.job
        if self._records.abandon(job.id, ENQUEUE_FAILED) is None:
            logger.warning("enqueue answer lost, job queued", extra={"record_id": job.id})
            return None
        staged.allowance.release()  # nothing was queued: the request used nothing
        logger.warning("message not queued", extra={"record_id": job.id})
        self._discard_staged(job)
        return QueueUnavailable(
            "The send queue did not take the message; nothing will be sent. Try again.",
            context={"id": job.id},
        )

    def _discard_staged(self, job: Job) -> None:
        """Best effort: the staging bucket's lifecycle removes what is left, and the caller
        is owed its 503, not whatever the delete raised."""
        try:
            self._queue.discard_staged(job)
        except Exception:
            logger.warning("staged message left to expire", extra={"record_id": job.id})

    def _earlier(self, record_id: str) -> Queued | None:
        """The answer for a message already accepted under this id; None if there is none,
        or the queue refused it (sending it again is what its 503 asked for)."""
        try:
            record = self._records.get(record_id)
        except NotFound:
            return None
        if (record.status, record.reason) == (Status.FAILED, ENQUEUE_FAILED):
            return None
        return Queued(
            id=record.id,
            message_id=record.message_id,
            status=record.status.value,
            send_at=record.send_at,
            suppressed=record.suppressed,
        )

    def _new_record(
        self,
        caller: Principal,
        admitted: Admitted,
        status: Status,
        *,
        record_id: str | None = None,
        attempts: int = 0,
        send_at: str | None = None,
        outbox: tuple[str, int] | None = None,
        over_abandoned: bool = False,
    ) -> MessageRecord:
        """A new record, with the message's tags and metadata; with `outbox` (the job's body,
        when it is due) holding its job."""
        message = admitted.sealed.message
        record = MessageRecord(
            id=record_id or new_record_id(),
            service=admitted.service.name,
            key_id=caller.key_id,
            role=caller.role.name,
            message_id=message.message_id,
            status=status,
            recipients=admitted.screened.kept,
            suppressed=admitted.screened.suppressed,
            attempts=attempts,
            send_at=send_at,
            tags=list(message.tags),
            metadata=dict(message.metadata),
        )
        correlate(record_id=record.id, message_id=message.message_id)
        return self._records.create(
            record.with_outbox(*outbox) if outbox else record, over_abandoned=over_abandoned
        )

    def _settle_sent(self, record: MessageRecord, delivery: Delivery) -> None:
        """Record the success. The message is out: a failure here must not turn into an error
        the caller would retry (sending it twice), so it is logged, loudly, instead."""
        try:
            self._records.settle(
                record.id,
                Status.SENT,
                reply=delivery.reply,
                provider_message_id=delivery.provider_message_id,
                accepted=delivery.accepted,
                refused={**delivery.refused, **delivery.deferred},
            )
        except Exception:
            logger.exception(
                "message sent, but its status record could not be updated",
                extra={"record_id": record.id, "message_id": record.message_id},
            )
