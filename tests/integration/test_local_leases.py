"""A local stack's start gives back the leases of the run before: none of its workers is left.

moto's DynamoDB with the template's tables; the records are written and read by core's own
repository, as the worker writes and reads them.
"""

from __future__ import annotations

import pytest

from core.delivery.connection_slots import ConnectionSlots
from core.delivery.message_record import MessageRecord, Status
from core.delivery.record_store import MessageRepository
from core.storage import ItemTable
from local_stack.leases import free_connection_slots, give_back_leases
from tests.conftest import TABLE_NAMES

# What the worker takes: 3 x the SMTP timeout + 60 s.
LEASE_SECONDS = 90


def _record(records: MessageRepository, record_id: str) -> MessageRecord:
    return records.create(
        MessageRecord(
            id=record_id,
            service="email",
            key_id="key",
            message_id=f"<{record_id}@example.com>",
            status=Status.QUEUED,
            recipients=["jane@example.com"],
        )
    )


@pytest.mark.usefixtures("aws")
def test_a_start_lets_every_sending_lease_lapse_and_touches_nothing_else() -> None:
    """Issue 17, finding 4: a record a killed worker left `sending` (its lease 90 s away) is
    settled as soon as its job comes back (`unknown`, `worker_interrupted`: it may have
    reached the server), instead of waiting out the lease; a queued record stays as it is."""
    records = MessageRepository(ItemTable(TABLE_NAMES["MessagesTable"], "id"))
    _record(records, "was-sending")
    _record(records, "still-queued")
    assert records.claim("was-sending", LEASE_SECONDS) is not None
    # While the lease runs, a redelivered job could only wait for it.
    assert records.expire_lease("was-sending") is None

    assert give_back_leases() == 1

    settled = records.expire_lease("was-sending")
    assert settled is not None
    assert (settled.status, settled.reason) == (Status.UNKNOWN, "worker_interrupted")
    assert records.get("still-queued").status is Status.QUEUED
    assert give_back_leases() == 0


@pytest.mark.usefixtures("aws")
def test_a_start_frees_the_connection_slots_the_last_runs_workers_held() -> None:
    """A service's slots held by a killed worker are free at once for the new run's workers,
    not after their holds run out; the service's pace and quota items are left alone."""
    table = ItemTable(TABLE_NAMES["RateLimitsTable"], "id")
    table.update("service:email", set={"count": 3})  # a pace window's item, say
    slots = ConnectionSlots(table)
    assert slots.take("email", 2, limit=2).count == 2  # never released: its worker was killed
    assert slots.take("email", 1, limit=2).count == 0

    assert free_connection_slots() == 2

    assert slots.take("email", 2, limit=2).count == 2
    assert table.get("service:email") == {"id": "service:email", "count": 3}
    assert free_connection_slots() == 2  # held again, by the take just above
