"""Sending a batch: every item through the single send's own path (`Mailer.send` now, or
`Mailer.accept` into the queue), in order, each with its own result.

The order of the checks, cheapest first: the envelope (`parse_batch`, before this), the role's
right to the service, each item's parse, then the role's recipient cap over the whole batch
(every recipient of every item: a batch must not reach more people than the role may reach in
one send), which refuses the whole batch. Then each item is authorized, charged and sent as a
single send is: an item over the role's or the provider's rate limits fails with its 429 (and
`retry_after`), the items before it went, and those after it are tried in turn (a window may
have turned). One item's refusal never stops the others.

A batch of up to `send_now_max` items is sent now, one after another on the service's pooled
connection; a larger one, or one asked to be asynchronous, is queued (each item checked,
staged and recorded as a single queued send is, then their jobs ten to an SQS call; an item
is `queued` only once its record and its job exist), for the worker to send. An item with a
`send_at` is always queued, as a single send is, and so is an item sent now once the
function has too little time left to send it (`MIN_SEND_SECONDS`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from pydantic import TypeAdapter

from core.access import policy
from core.access.authentication import Principal
from core.access.model import Role
from core.access.quota import Quota
from core.batch.envelope import BatchEnvelope
from core.batch.outcome import BatchOutcome, ItemFailed, ItemQueued, ItemResult, ItemSent
from core.delivery.idempotency import at_most_once, keyed_record_id
from core.errors import EmailApiError, Forbidden, RateLimited
from core.outcomes import Queued
from core.send_request import SendRequest, parse_send_request
from core.transport.base import Deadline

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from core.sending import Mailer

logger = Logger(child=True)

# The least time an item sent now is given; with less left, it is queued instead.
MIN_SEND_SECONDS = 2.0

_STORED: TypeAdapter[BatchOutcome] = TypeAdapter(BatchOutcome)


@dataclass(frozen=True)
class BatchSender:
    """Sends or queues a batch through `mailer`, at most once per idempotency key (kept in
    `idempotency_store()`, as `Dispatcher` keeps a single send's)."""

    mailer: Mailer
    idempotency_store: Callable[[], BasePersistenceLayer]
    idempotency_seconds: int
    send_deadline: Callable[[int | None], Deadline]
    send_now_max: int

    def send(
        self,
        caller: Principal,
        service: str,
        batch: BatchEnvelope,
        body: object,
        *,
        asynchronous: bool,
        idempotency_key: str | None,
        lambda_context: LambdaContext | None,
    ) -> BatchOutcome:
        """Each item's result, in order. `body`, the JSON the batch came as, is what an
        idempotency key is held to: the same key and body answer the first outcome again, and
        nothing is sent twice; another body is a 409."""
        # Before the service is looked up, as for a single send: no probing names by batch.
        policy.check_service(caller.role, service)
        queued = asynchronous or len(batch) > self.send_now_max
        # A batch's key is its own: the same key on a single send is another request.
        scope = f"{caller.key_id}#{service}#batch"

        def operation() -> BatchOutcome:
            run = _Run(self, caller, service, scope, idempotency_key, lambda_context)
            return run.all(batch, queued=queued)

        return at_most_once(
            self.idempotency_store,
            key=idempotency_key,
            scope=scope,
            body=body,
            expires_after_seconds=self.idempotency_seconds,
            lambda_context=lambda_context,
            operation=operation,
            stored_as=_STORED,
        )


@dataclass
class _Run:
    """One batch on its way: what each item needs to know of the request."""

    sender: BatchSender
    caller: Principal
    service: str
    scope: str
    idempotency_key: str | None
    lambda_context: LambdaContext | None
    quota: Quota | None = None

    def all(self, batch: BatchEnvelope, *, queued: bool) -> BatchOutcome:
        parsed = [_parse(batch, index) for index in range(len(batch))]
        check_recipient_cap(self.caller.role, parsed)
        if queued:
            results = self._queue_all(parsed)
        else:
            results = [
                self._failed(index, item) if isinstance(item, Exception) else self._one(index, item)
                for index, item in enumerate(parsed)
            ]
        return BatchOutcome(results=results, queued=queued, quota=self.quota)

    def _queue_all(self, parsed: list[SendRequest | EmailApiError]) -> list[ItemResult]:
        """Every item queued, their jobs ten to a call (`Mailer.accept_many`)."""
        requests = _requests(parsed)
        answers = self.sender.mailer.accept_many(
            self.caller,
            self.service,
            [(request, self._record_id(index)) for index, request in requests],
        )
        by_index = dict(zip([index for index, _ in requests], answers, strict=True))
        return [
            self._failed(index, item)
            if isinstance(item, Exception)
            else self._queued(index, by_index[index])
            for index, item in enumerate(parsed)
        ]

    def _one(self, index: int, request: SendRequest) -> ItemResult:
        try:
            if request.send_at is not None:
                return self._accept(index, request)
            return self._send_now(index, request)
        except Exception as error:  # one item's fault must not cost the others their answer
            return self._failed(index, error)

    def _failed(self, index: int, error: Exception) -> ItemFailed:
        if isinstance(error, RateLimited):
            self.quota = error.quota
        if isinstance(error, EmailApiError):
            return ItemFailed.of(index, error)
        logger.error("batch item failed", extra={"index": index}, exc_info=error)
        return ItemFailed.of(index, EmailApiError("Internal error."))

    def _record_id(self, index: int) -> str | None:
        """Under a key, each item's record id is fixed, so a retry after this request died
        finds the items it had queued instead of queueing them twice."""
        key = self.idempotency_key
        return keyed_record_id(self.scope, f"{key}#{index}") if key else None

    def _accept(self, index: int, request: SendRequest) -> ItemResult:
        accepted = self.sender.mailer.accept(
            self.caller, self.service, request, record_id=self._record_id(index)
        )
        return self._queued(index, accepted)

    def _queued(self, index: int, answer: Queued | Exception) -> ItemResult:
        if isinstance(answer, Exception):
            return self._failed(index, answer)
        self.quota = answer.quota or self.quota
        return ItemQueued(
            index=index,
            status="scheduled" if answer.status == "scheduled" else "queued",
            id=answer.id,
            message_id=answer.message_id,
            send_at=answer.send_at,
            suppressed=answer.suppressed,
        )

    def _send_now(self, index: int, request: SendRequest) -> ItemResult:
        context = self.lambda_context
        remaining = context.get_remaining_time_in_millis() if context else None
        deadline = self.sender.send_deadline(remaining)
        if deadline.remaining() < MIN_SEND_SECONDS:
            # The function's time is running out (a slow server took it): the rest go to
            # the worker rather than to a send cut short, whose fate would be unknown.
            return self._accept(index, request)
        sent = self.sender.mailer.send(self.caller, self.service, request, deadline)
        self.quota = sent.quota or self.quota
        return ItemSent(
            index=index,
            id=sent.id,
            message_id=sent.message_id,
            count=sent.count,
            refused=sent.refused,
            suppressed=sent.suppressed,
        )


def _requests(parsed: list[SendRequest | EmailApiError]) -> list[tuple[int, SendRequest]]:
    return [(index, item) for index, item in enumerate(parsed) if isinstance(item, SendRequest)]


def _parse(batch: BatchEnvelope, index: int) -> SendRequest | EmailApiError:
    try:
        return parse_send_request(batch.item_body(index))
    except EmailApiError as error:
        return error


def check_recipient_cap(role: Role, parsed: list[SendRequest | EmailApiError]) -> None:
    """403 for the whole batch when its items together name more recipients than the role's
    `max_recipients`: the cap bounds how many people one request reaches, batch or not."""
    if role.max_recipients is None:
        return
    count = sum(len(item.envelope_recipients()) for item in parsed if isinstance(item, SendRequest))
    if count > role.max_recipients:
        raise Forbidden(
            f"This batch has {count} recipients in all, more than this API key's limit of"
            f" {role.max_recipients} a request.",
            reason="too_many_recipients",
            context={"recipients": count, "limit": role.max_recipients},
        )
