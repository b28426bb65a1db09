"""Listing message records (`core.delivery.message_list`) over the in-memory index: newest
first, page after page, each filter, the caller's role, a bounded number of reads, and a
cursor that only works for the list it came from."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.delivery.message_list import (
    FILTERED_READ_SIZE,
    MAX_READS,
    MessagePage,
    MessageQuery,
    list_messages,
)
from core.delivery.message_record import MessageRecord, Status
from core.errors import InvalidRequest
from tests.support.fake_clock import FakeClock
from tests.support.fake_delivery import FakeMessageRepository

START = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)


def _records(*specs: tuple[str, str, Status]) -> tuple[FakeMessageRepository, list[str]]:
    """Records of (service, role, status), one a minute from START, as the send path writes
    them; their ids in the order written (oldest first)."""
    clock = FakeClock(START)
    records = FakeMessageRepository(clock=clock)
    ids = []
    for number, (service, role, status) in enumerate(specs):
        record = records.create(
            MessageRecord(
                id=f"{number:032x}",
                service=service,
                key_id="k",
                role=role,
                message_id=f"<{number}@x>",
                status=status,
                recipients=[f"user{number % 3}@example.com"],
                tags=["even"] if number % 2 == 0 else ["odd"],
            )
        )
        ids.append(record.id)
        clock.advance(60)
    return records, ids


def _all_pages(records: FakeMessageRepository, query: MessageQuery) -> list[MessagePage]:
    pages = [list_messages(records, query, now=START + timedelta(days=1))]
    while pages[-1].next_cursor is not None:
        query = replace(query, cursor=pages[-1].next_cursor)
        pages.append(list_messages(records, query, now=START + timedelta(days=1)))
        assert len(pages) < 50
    return pages


def _ids(pages: list[MessagePage]) -> list[str]:
    return [record.id for page in pages for record in page.records]


MIXED = [
    (service, role, status)
    for service, role, status in [
        ("email", "billing", Status.SENT),
        ("email", "support", Status.SENT),
        ("other", "billing", Status.FAILED),
        ("email", "billing", Status.FAILED),
        ("other", "support", Status.SENT),
        ("email", "billing", Status.SENT),
        ("email", "support", Status.QUEUED),
    ]
    * 3
]


def test_a_services_messages_come_newest_first_page_by_page() -> None:
    records, ids = _records(*MIXED)
    pages = _all_pages(records, MessageQuery(service="email", role=None, limit=4))

    expected = [i for i, spec in zip(ids, MIXED, strict=True) if spec[0] == "email"][::-1]
    assert _ids(pages) == expected
    assert [len(page.records) for page in pages] == [4, 4, 4, 3]
    assert pages[-1].next_cursor is None


def test_a_role_sees_only_its_own_messages_on_every_page() -> None:
    records, ids = _records(*MIXED)
    pages = _all_pages(records, MessageQuery(service="email", role="billing", limit=2))

    assert {record.role for page in pages for record in page.records} == {"billing"}
    expected = [i for i, spec in zip(ids, MIXED, strict=True) if spec[:2] == ("email", "billing")]
    assert _ids(pages) == expected[::-1]


def test_across_services_lists_every_services_messages() -> None:
    records, ids = _records(*MIXED)
    pages = _all_pages(records, MessageQuery(service=None, role=None, limit=5))

    assert _ids(pages) == ids[::-1]


def test_months_are_walked_newest_first() -> None:
    clock = FakeClock(datetime(2026, 10, 31, 23, 59, tzinfo=UTC))
    records = FakeMessageRepository(clock=clock)
    for number in range(4):
        records.create(
            MessageRecord(
                id=f"{number:032x}",
                service="email",
                key_id="k",
                message_id="<m>",
                status=Status.SENT,
            )
        )
        clock.advance(24 * 3600)
    now = clock.now()
    pages = [list_messages(records, MessageQuery(service=None, role=None, limit=3), now=now)]
    query = MessageQuery(service=None, role=None, limit=3, cursor=pages[0].next_cursor)
    pages.append(list_messages(records, query, now=now))

    assert [[r.list_month for r in page.records] for page in pages] == [
        ["2026-11", "2026-11", "2026-11"],
        ["2026-10"],
    ]
    assert pages[1].next_cursor is None


@pytest.mark.parametrize(
    ("filters", "keep"),
    [
        ({"status": Status.FAILED}, lambda n, spec: spec[2] is Status.FAILED),
        ({"recipient": "user1@EXAMPLE.com"}, lambda n, spec: n % 3 == 1),
        ({"tag": "odd"}, lambda n, spec: n % 2 == 1),
        (
            {"since": START + timedelta(minutes=3), "until": START + timedelta(minutes=9)},
            lambda n, spec: 3 <= n <= 9,
        ),
    ],
    ids=["status", "recipient", "tag", "since-until"],
)
def test_each_filter_keeps_only_what_it_names(
    filters: dict[str, Any], keep: Callable[[int, tuple[str, str, Status]], bool]
) -> None:
    records, ids = _records(*MIXED)
    query = replace(MessageQuery(service="email", role=None, limit=3), **filters)
    pages = _all_pages(records, query)

    wanted = [ids[n] for n, spec in enumerate(MIXED) if spec[0] == "email" and keep(n, spec)]
    assert _ids(pages) == wanted[::-1]


def test_a_filter_matching_little_stops_after_a_bounded_number_of_reads() -> None:
    # Many records, one match at the very end: the first page gives up reading and hands a
    # cursor on, and the match still comes, on a later page.
    count = MAX_READS * FILTERED_READ_SIZE + 10
    specs = [("email", "support", Status.SENT)] * count
    records, ids = _records(*specs)
    oldest = records.records[ids[0]]
    records.records[ids[0]] = oldest.model_copy(update={"role": "billing"})

    query = MessageQuery(service="email", role="billing", limit=20)
    first = list_messages(records, query, now=START + timedelta(days=1))

    assert (first.records, records.reads) == ([], MAX_READS)
    assert first.next_cursor is not None
    pages = _all_pages(records, replace(query, cursor=first.next_cursor))
    assert _ids(pages) == [ids[0]]


def test_a_cursor_is_refused_by_another_list() -> None:
    records, _ = _records(*MIXED)
    query = MessageQuery(service="email", role="billing", limit=2)
    cursor = list_messages(records, query, now=START).next_cursor
    assert cursor is not None

    for other in (
        replace(query, role="support"),
        replace(query, service="other"),
        replace(query, role=None),
        replace(query, status=Status.SENT),
        MessageQuery(service=None, role=None, limit=2),
    ):
        with pytest.raises(InvalidRequest) as refused:
            list_messages(records, replace(other, cursor=cursor), now=START)
        assert refused.value.reason == "invalid_cursor"
    # A page of another size is the same list.
    list_messages(records, replace(query, limit=5, cursor=cursor), now=START)


@pytest.mark.parametrize(
    "cursor",
    ["", "not base64!", "e30=", "eyJwIjoxfQ==", "W10=", "bnVsbA=="],
    ids=["empty", "garbage", "empty-object", "wrong-types", "a-list", "null"],
)
def test_a_malformed_cursor_is_a_clean_400(cursor: str) -> None:
    records, _ = _records(*MIXED)
    query = MessageQuery(service="email", role=None, cursor=cursor)
    with pytest.raises(InvalidRequest) as refused:
        list_messages(records, query, now=START)
    assert refused.value.reason == "invalid_cursor"


def test_a_cursor_changed_by_hand_is_refused() -> None:
    records, _ = _records(*MIXED)
    query = MessageQuery(service="email", role="billing", limit=2)
    cursor = list_messages(records, query, now=START).next_cursor
    assert cursor is not None
    body = json.loads(base64.urlsafe_b64decode(cursor))
    for changed in ({"p": "other"}, {"k": body["k"][:-1] + "f"}, {"c": "x" + body["c"][1:]}):
        forged = base64.urlsafe_b64encode(json.dumps({**body, **changed}).encode()).decode()
        with pytest.raises(InvalidRequest) as refused:
            list_messages(records, replace(query, cursor=forged), now=START)
        assert refused.value.reason == "invalid_cursor"


@pytest.mark.parametrize("limit", [0, 101, -1])
def test_a_limit_out_of_range_is_refused(limit: int) -> None:
    records, _ = _records(*MIXED)
    with pytest.raises(InvalidRequest) as refused:
        list_messages(records, MessageQuery(service="email", role=None, limit=limit), now=START)
    assert refused.value.reason == "invalid_limit"


def test_since_after_until_is_refused() -> None:
    records, _ = _records(*MIXED)
    query = MessageQuery(
        service="email", role=None, since=START, until=START - timedelta(seconds=1)
    )
    with pytest.raises(InvalidRequest) as refused:
        list_messages(records, query, now=START)
    assert refused.value.reason == "invalid_range"


def test_a_full_last_page_says_there_is_no_next_one() -> None:
    records, _ = _records(*[("email", "billing", Status.SENT)] * 4)
    page = list_messages(records, MessageQuery(service="email", role=None, limit=4), now=START)
    assert (len(page.records), page.next_cursor) == (4, None)
