"""The send path's steps wired to in-memory fakes (unit tests): the fakes are kept in view,
so a test can prime them and look at what they were given."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.access.authentication import Principal
from core.admission import Admission
from core.delivery.attempt import Attempts, RetryPolicy
from core.delivery.connection_slots import ConnectionSlots
from core.delivery.courier import Courier
from core.delivery.deliver import Deliverer
from core.errors import Unauthorized
from core.message_events.from_records import RecordsWithEvents
from core.ports import TransportFactory
from core.sending import Mailer
from core.suppression.suppressions import Suppressions
from tests.support.fake_attachments import FakeAttachments
from tests.support.fake_clock import FakeClock
from tests.support.fake_delivery import FakeMessageQueue, FakeMessageRepository
from tests.support.fake_limiter import FakeLimiter
from tests.support.fake_services import FakeServiceRepository
from tests.support.fake_suppressions import FakeSuppressionStore
from tests.support.fake_templates import FakeTemplates
from tests.support.message_events import CollectedEvents
from tests.support.outbox import Outbox


@dataclass
class SendPath:
    clock: FakeClock = field(default_factory=FakeClock)
    services: FakeServiceRepository = field(default_factory=FakeServiceRepository)
    templates: FakeTemplates = field(default_factory=FakeTemplates)
    attachments: FakeAttachments = field(default_factory=FakeAttachments)
    limiter: FakeLimiter = field(default_factory=FakeLimiter)
    outbox: Outbox = field(default_factory=Outbox)
    queue: FakeMessageQueue = field(default_factory=FakeMessageQueue)
    suppression_store: FakeSuppressionStore = field(default_factory=FakeSuppressionStore)
    # Who each key acts as now (the courier's `sender_now`); a key missing here is revoked.
    keys: dict[str, Principal] = field(default_factory=dict)
    max_recipients: int = 50
    max_message_bytes: int = 100_000
    # What the records' moves told the message events' consumers.
    events: CollectedEvents = field(default_factory=CollectedEvents)
    # The records' leases run on the same clock as the courier.
    records: FakeMessageRepository = field(init=False)
    _with_events: tuple[FakeMessageRepository, RecordsWithEvents] | None = field(
        default=None, init=False, repr=False
    )

    def __post_init__(self) -> None:
        self.records = FakeMessageRepository(clock=self.clock)

    @property
    def message_records(self) -> RecordsWithEvents:
        """The records as the mailer and the courier move them on, producing events: one
        for the path, over whatever `records` a test put in place."""
        if self._with_events is None or self._with_events[0] is not self.records:
            self._with_events = (self.records, RecordsWithEvents(self.records, self.events))
        return self._with_events[1]

    def suppressions(self) -> Suppressions:
        return Suppressions(self.suppression_store, self.clock)

    def admission(self) -> Admission:
        return Admission(self.limiter, max_recipients=self.max_recipients)

    def mailer(self, transports: TransportFactory | None = None) -> Mailer:
        return Mailer(
            self.services,
            self.templates,
            self.attachments,
            self.admission(),
            Deliverer(transports or self.outbox),
            self.message_records,
            self.queue,
            self.clock,
            suppressions=self.suppressions(),
            max_message_bytes=self.max_message_bytes,
        )

    def courier(
        self,
        transports: TransportFactory | None = None,
        *,
        max_attempts: int | None = 3,
        base_seconds: float = 10,
        window_seconds: int = 86_400,
        lease_seconds: int = 60,
        min_seconds_to_start: float = 1,
        connection_slots: ConnectionSlots | None = None,
    ) -> Courier:
        deliverer = Deliverer(transports or self.outbox)
        attempts = Attempts(
            self.services,
            self.admission(),
            deliverer,
            self.message_records,
            self.queue,
            self.clock,
            sender_now=self.sender_now,
            suppressions=self.suppressions(),
            retries=RetryPolicy(max_attempts, base_seconds, window_seconds),
            lease_seconds=lease_seconds,
            max_message_bytes=self.max_message_bytes,
            min_seconds_to_start=min_seconds_to_start,
        )
        return Courier(
            attempts,
            self.services,
            deliverer,
            min_seconds_to_start=min_seconds_to_start,
            connection_slots=connection_slots,
        )

    def sender_now(self, key_id: str) -> Principal:
        try:
            return self.keys[key_id]
        except KeyError:
            raise Unauthorized("Missing or invalid API key.") from None
