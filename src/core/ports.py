"""What the send path needs from the world, as `typing.Protocol`s: the stores, the queue, the
limiter, the clock and the transports. Core's steps depend on these alone; `core.runtime`
plugs in the AWS-backed adapters, unit tests in-memory fakes that mypy checks against them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self, Unpack, runtime_checkable

from core.access.model import RateLimits
from core.access.reservation import Reservation
from core.attachments.references import InlineAttachment, Reference
from core.credentials import ServiceCredentials
from core.delivery.job import INLINE_LIMIT_BYTES, Job
from core.delivery.listing_index import Criteria, IndexPage, Partition
from core.delivery.message_record import MessageRecord, RecordChanges, Status
from core.delivery.recipient_status import EventEntry, RecipientStatus
from core.message import Attachment, Message
from core.message_events.model import MessageEvent
from core.observability.names import Metric
from core.services.model import Service
from core.stats.model import DayCounts
from core.suppression.model import Reason, Suppression, SuppressionPage
from core.templates.model import EmailTemplate
from core.transport.base import Deadline, Delivery, Envelope, Outgoing
from core.transport.report import ConnectionReport
from core.webhooks.model import Attempt, AttemptPage, DeliveryJob, StoredWebhook

if TYPE_CHECKING:
    from core.dkim.signing import MessageSigner  # it logs: powertools' Logger loads botocore


class ServiceStore(Protocol):
    def by_name(self, name: str) -> Service:
        """The service called `name`, or `NotFound`: by name only (what a send's path and a
        message record name), and never a write."""
        ...


class TemplateStore(Protocol):
    def by_name(self, name: str) -> EmailTemplate:
        """The template called `name`, or `NotFound` (reason `template_not_found`)."""
        ...

    def by_id(self, template_id: int) -> EmailTemplate:
        """The template with DreamFactory's numeric id, or `NotFound`."""
        ...


class CredentialSource(Protocol):
    def password(self, secret_id: str, version: str | None) -> str | None:
        """The password kept under `secret_id` (at `version`, when pinned)."""
        ...

    def credentials(self, secret_id: str, version: str | None) -> ServiceCredentials:
        """Everything kept under `secret_id`: the password and the OAuth2 secrets."""
        ...


class RecordStore(Protocol):
    def create(self, record: MessageRecord, *, over_abandoned: bool = False) -> MessageRecord: ...

    def get(self, record_id: str) -> MessageRecord: ...

    def claim(
        self, record_id: str, lease_seconds: int, *, at: datetime | None = None
    ) -> MessageRecord | None: ...

    def expire_lease(self, record_id: str) -> MessageRecord | None: ...

    def abandon(self, record_id: str, reason: str) -> MessageRecord | None: ...

    def release_outbox(self, record_id: str) -> None: ...

    def settle(
        self, record_id: str, status: Status, **changes: Unpack[RecordChanges]
    ) -> MessageRecord: ...


class RecordIndex(Protocol):
    """The listing indexes of the message records: reads, never a scan."""

    def newest(
        self, partition: Partition, criteria: Criteria, *, after: str | None, limit: int
    ) -> IndexPage:
        """One read of `partition`, newest first, after the sort key `after` (None: from the
        top): of the `limit` records it evaluates within `criteria`'s bounds, those matching
        its filters, and the sort key to go on after (None: the partition has no more)."""
        ...


class RecordEvents(Protocol):
    """What applying a provider's events needs of the message records."""

    def find_by_provider_id(self, provider_message_id: str) -> MessageRecord | None:
        """The record of the message its provider knows by that id, if any."""
        ...

    def get(self, record_id: str) -> MessageRecord: ...

    def record_events(
        self,
        record: MessageRecord,
        recipients_status: dict[str, RecipientStatus],
        events: list[EventEntry],
    ) -> MessageRecord | None:
        """Write what the events made of `record` as read; None if it changed meanwhile."""
        ...


class JobQueue(Protocol):
    def stage(self, job: Job, *, inline_limit: int = INLINE_LIMIT_BYTES) -> Job:
        """`job` as the queue will carry it: a message over `inline_limit` put aside."""
        ...

    def enqueue(self, job: Job, *, delay_seconds: int = 0) -> None: ...

    def enqueue_many(self, jobs: Sequence[tuple[Job, int]]) -> set[str]:
        """Queue each (job, delay in seconds), several to a call where the queue allows it;
        the ids of the jobs it may not have taken (a call that failed: all of its jobs)."""
        ...

    def message_of(self, job: Job) -> Message:
        """The message the job carries, fetched from where it was staged if need be."""
        ...

    def legacy_request_of(self, job: Job) -> dict[str, Any] | None:
        """The send body of a job queued by an earlier version (None for today's jobs)."""
        ...

    def discard_staged(self, job: Job) -> None: ...


class MessageEventSink(Protocol):
    """Where message events go (the daily counters, the webhooks): each is published once,
    by the write that made it true."""

    def publish(self, events: Sequence[MessageEvent]) -> None:
        """Take `events`; a consumer's fault is its own to log, never the send's failure."""
        ...


class MetricRecorder(Protocol):
    """Where outcomes and timings go as metrics (`core.observability`: EMF when deployed)."""

    def count(self, metric: Metric, value: int = 1, *, reason: str | None = None) -> None:
        """Add `value` to `metric` (and to `metric` by `reason`, when one is given)."""
        ...

    def milliseconds(self, metric: Metric, value: float) -> None:
        """One measurement of `metric`, a duration."""
        ...


class StatsStore(Protocol):
    """The daily counters, by service and UTC day (`YYYY-MM-DD`)."""

    def add(self, service: str, day: str, counts: Mapping[str, int]) -> None:
        """Add `counts` to the day's counters, in one write."""
        ...

    def days(self, since: date, until: date, *, service: str | None) -> list[DayCounts]:
        """The counters of every day from `since` to `until` (both included) that has any,
        of `service` or of every service, by day then service."""
        ...


class SuppressionStore(Protocol):
    def put(self, entry: Suppression) -> None:
        """Keep `entry`, over any of the same scope and address."""
        ...

    def get(self, scope: str, email: str) -> Suppression | None: ...

    def delete(self, scope: str, email: str) -> bool:
        """Remove the entry; False if there was none."""
        ...

    def among(self, scopes: Iterable[str], emails: Iterable[str]) -> list[Suppression]:
        """The entries of any of `scopes` for any of `emails` (normalized), in one read."""
        ...

    def page(
        self, *, scope: str | None, reason: Reason | None, limit: int, cursor: str | None
    ) -> SuppressionPage:
        """Up to `limit` entries after the opaque `cursor` (`InvalidRequest` if it is bad)."""
        ...


class Limiter(Protocol):
    def consume(self, subject: str, limits: RateLimits) -> Reservation:
        """One from each calendar window of `subject`, or `RateLimited` taking nothing."""
        ...

    def consume_sliding(self, subject: str, limits: RateLimits) -> Reservation:
        """One from each sliding window of `subject`, or `RateLimited` taking nothing."""
        ...

    def sliding_wait(self, subject: str, limits: RateLimits) -> float:
        """Seconds until `subject`'s sliding windows would let one more through (0: now)."""
        ...


class AttachmentSource(Protocol):
    def __call__(
        self, entries: Sequence[Reference | InlineAttachment], *, budget: int
    ) -> list[Attachment]:
        """The files DreamFactory's `attachment` / `import_url` name, in order: URLs fetched
        (within `budget` bytes in all, and the operator's time limit), inline ones as given."""
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class Transport(Protocol):
    """A connection to one service's provider, with a life cycle: `open` it (connect, secure,
    authenticate), `send` one message or many on it, `close` it. As a context manager it
    closes however the block ends. `send` on a transport not opened is a session of its
    own: opened, one message, closed. What more a transport can do, it says by also meeting
    an ability below (`AnnouncesNext`, `Probes`); callers ask with `isinstance`."""

    def open(self, deadline: Deadline) -> None: ...

    def send(self, message: bytes, envelope: Envelope, deadline: Deadline) -> Delivery:
        """Hand one message over, or raise a `DeliveryFailure` (with `stale_connection` when a
        kept connection was found dead before the handover: the caller may send once more on
        a fresh one)."""
        ...

    def close(self) -> None: ...

    # A transport that names this Protocol as its base inherits these two.
    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


@runtime_checkable
class AnnouncesNext(Protocol):
    """An ability: told in advance what the send after the coming one will carry, a transport
    may start on it in the same round trip as the coming one's end (SMTP does, with
    PIPELINING). Whatever that send carries in the end is sent right."""

    def announce(self, following: Outgoing) -> None:
        """`following` is what the send after the next `send` will carry; it holds for the
        next `send` only."""
        ...


@runtime_checkable
class PacesHandover(Protocol):
    """An ability: told what to run at the very moment the next send hands its message over
    (for SMTP, just before the write that carries the text ending with the final dot: after
    the envelope was accepted, unless the server takes both in one write), a transport runs
    it there. The courier takes a provider's pace there, so that
    messages reach the provider at the pace they were allowed, whatever came before."""

    def before_handover(self, hook: Callable[[], None]) -> None:
        """Run `hook` just before the next `send` hands its message over (for that send only);
        what `hook` raises ends the send before anything of the message's text was written."""
        ...


@runtime_checkable
class Probes(Protocol):
    """An ability: a connection test, the steps a send would take stopped before any mail."""

    def probe(self, deadline: Deadline, *, service: str, clock: Clock) -> ConnectionReport:
        """The report of the test for the service named `service`; a failed step is in the
        report (`ok` false), not raised."""
        ...


@runtime_checkable
class SignsWithDkim(Protocol):
    """An ability: the transport DKIM-signs what it sends, with `signer` (None: it does not)."""

    signer: MessageSigner | None


class TransportFactory(Protocol):
    def __call__(self, service: Service) -> Transport:
        """A transport for `service`, of the kind its type names, with its credentials."""
        ...

    def identity(self, service: Service) -> Hashable:
        """What a transport for `service` connects with, as its kind sees it (SMTP: server,
        encryption, TLS checks, username): a kept one built for another identity is stale."""
        ...


class WebhookStore(Protocol):
    def create(self, webhook: StoredWebhook) -> None: ...

    def get(self, webhook_id: str) -> StoredWebhook | None: ...

    def all(self) -> list[StoredWebhook]: ...

    def delete(self, webhook_id: str) -> None: ...


class WebhookSecretStore(Protocol):
    def create(self, webhook_id: str, secret: str) -> str:
        """Keep a subscription's signing secret; returns its id."""
        ...

    def get(self, secret_id: str) -> str: ...

    def delete(self, secret_id: str) -> None: ...


class WebhookJobQueue(Protocol):
    def enqueue(self, jobs: Sequence[DeliveryJob]) -> None: ...


class AttemptLog(Protocol):
    def record(self, attempt: Attempt) -> None: ...

    def page(self, webhook_id: str, *, limit: int, cursor: str | None) -> AttemptPage: ...

    def delete_all(self, webhook_id: str) -> None: ...
