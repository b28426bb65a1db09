"""Message records refuse what is not theirs: an unknown attribute read back, or a change that
settling an attempt may not make (a `**dict` splat the type checker cannot see)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from core.delivery.message_record import MessageRecord, RecordChanges, Status
from core.delivery.record_store import MessageRepository
from core.storage import ItemTable


def _repository() -> MessageRepository:
    # Refusals come before any request: a table that would fail if touched is enough.
    return MessageRepository(ItemTable("never-touched", "id", table=None))


def test_every_change_an_attempt_may_make_is_a_record_field() -> None:
    assert RecordChanges.__optional_keys__ <= MessageRecord.model_fields.keys()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"smtp_replies": "250 ok"}, "MessageRecord has no field 'smtp_replies'"),
        ({"reason": "x", "accepted_at": "now"}, "MessageRecord has no field 'accepted_at'"),
        ({"attempts": 0}, "Settling a message cannot change its 'attempts'"),
        ({"id": "other"}, "Settling a message cannot change its 'id'"),
    ],
)
def test_settle_refuses_a_change_it_does_not_know(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        _repository().settle("m1", Status.SENT, **changes)


def test_a_stored_attribute_that_is_not_a_field_is_refused() -> None:
    item = {"id": "m1", "service": "email", "key_id": "k", "message_id": "<m@x>"}

    with pytest.raises(ValidationError, match="smtp_replies"):
        MessageRecord.model_validate({**item, "status": "sent", "smtp_replies": "250 ok"})
