"""`ItemTable.update`, the one way the repositories change part of an item: in moto, on the
template's own tables."""

from __future__ import annotations

from decimal import Decimal

import pytest
from boto3.dynamodb.conditions import Attr

from core.delivery.message_record import Status
from core.storage import ItemTable
from tests.conftest import TABLE_NAMES


@pytest.fixture
def table(aws: None) -> ItemTable:
    table = ItemTable(TABLE_NAMES["MessagesTable"], "id")
    table.put({"id": "m1", "status": "queued", "attempts": 0, "reason": "none yet"})
    return table


def test_a_met_condition_applies_the_update_and_returns_the_new_item(table: ItemTable) -> None:
    item = table.update(
        "m1",
        set={"status": "sending", "lease_until": 100},
        add={"attempts": 1},
        only_if=Attr("status").is_in(["scheduled", "queued"]),
    )

    expected = {
        "id": "m1",
        "status": "sending",
        "attempts": Decimal(1),
        "reason": "none yet",
        "lease_until": Decimal(100),
    }
    assert item == expected
    assert table.get("m1") == expected


def test_a_failed_condition_changes_nothing_and_returns_none(table: ItemTable) -> None:
    before = table.get("m1")

    item = table.update(
        "m1", set={"status": "sent"}, add={"attempts": 1}, only_if=Attr("status").eq("sending")
    )

    assert item is None
    assert table.get("m1") == before


def test_conditions_combine_and_may_name_the_attributes_being_set(table: ItemTable) -> None:
    sending = Attr("status").eq("queued") & Attr("attempts").lt(1)

    assert table.update("m1", set={"status": "sending"}, only_if=sending) is not None
    assert table.update("m1", set={"status": "sending"}, only_if=sending) is None


def test_adding_counts_from_zero_and_may_go_down(table: ItemTable) -> None:
    first = table.update("counter", set={"expires_at": 60}, add={"hits": 1})
    second = table.update("counter", add={"hits": 1})
    back = table.update("counter", add={"hits": -1})

    assert first == {"id": "counter", "hits": Decimal(1), "expires_at": Decimal(60)}
    assert (second or {})["hits"] == 2
    assert (back or {})["hits"] == 1


def test_a_condition_on_a_missing_attribute_guards_a_counter(table: ItemTable) -> None:
    below_two = Attr("hits").not_exists() | Attr("hits").lt(2)

    hits = [table.update("counter", add={"hits": 1}, only_if=below_two) for _ in range(3)]

    assert [None if item is None else item["hits"] for item in hits] == [1, 2, None]


def test_enums_are_stored_as_their_value(table: ItemTable) -> None:
    table.update("m1", set={"status": Status.SENT})

    stored = table.get("m1")
    assert stored is not None
    assert stored["status"] == "sent"
    assert type(stored["status"]) is str


def test_set_fields_changes_an_existing_item_only(table: ItemTable) -> None:
    assert table.set_fields("m1", {"reason": "changed"})
    assert not table.set_fields("gone", {"reason": "changed"})

    assert (table.get("m1") or {})["reason"] == "changed"
    assert table.get("gone") is None


def test_an_update_that_changes_nothing_is_refused(table: ItemTable) -> None:
    with pytest.raises(ValueError, match="set, add or remove"):
        table.update("m1", set={}, only_if=Attr("status").exists())


def test_an_update_removes_attributes_with_no_value_to_set(table: ItemTable) -> None:
    """A REMOVE alone (DynamoDB refuses an empty map of values) drops exactly those."""
    table.update("m1", set={"outbox": "{}", "outbox_due": 5})

    item = table.update("m1", remove=("outbox", "outbox_due"), only_if=Attr("id").exists())

    assert item is not None
    assert {"outbox", "outbox_due"}.isdisjoint(item)
    assert item["id"] == "m1"
