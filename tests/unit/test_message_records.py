"""Message records refuse what is not theirs: an unknown attribute read back, or a change that
settling an attempt may not make (a `**dict` splat the type checker cannot see); they still
read what an earlier version wrote, and keep the provider's words within bounds."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from core.delivery.message_record import (
    MAX_REPLY_CHARS,
    MessageRecord,
    RecordChanges,
    Status,
    bounded,
)
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
        # Its name before `reply`: only records an earlier version wrote hold it.
        ({"smtp_reply": "250 ok"}, "MessageRecord has no field 'smtp_reply'"),
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


ITEM = {"id": "m1", "service": "email", "key_id": "k", "message_id": "<m@x>", "status": "sent"}


def test_a_record_an_earlier_version_wrote_reads_its_smtp_reply_as_reply() -> None:
    record = MessageRecord.model_validate({**ITEM, "smtp_reply": "250 2.0.0 Ok: queued as 1A2B"})

    assert (record.reply, record.provider_message_id) == ("250 2.0.0 Ok: queued as 1A2B", None)
    assert "smtp_reply" not in record.model_dump()


def test_a_reply_set_since_wins_over_the_earlier_versions_one() -> None:
    record = MessageRecord.model_validate(
        {**ITEM, "smtp_reply": "451 4.3.0 Try again later", "reply": "250 2.0.0 Ok"}
    )

    assert record.reply == "250 2.0.0 Ok"


def test_the_providers_id_is_cut_as_its_reply_is() -> None:
    changes: RecordChanges = {"reply": "250 " + "r" * 500, "provider_message_id": "i" * 500}

    cut = bounded(changes)

    assert cut == {
        "reply": ("250 " + "r" * 500)[:MAX_REPLY_CHARS],
        "provider_message_id": "i" * MAX_REPLY_CHARS,
    }
    assert changes["provider_message_id"] == "i" * 500  # the caller's own is left as it was
