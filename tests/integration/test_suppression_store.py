"""The suppression list's DynamoDB adapter in moto: the batched lookup a send makes, beyond
one BatchGetItem's 100 keys, and paging by cursor."""

from __future__ import annotations

import pytest

from core.errors import InvalidRequest
from core.suppression.model import ACCOUNT_WIDE, Reason, Suppression
from core.suppression.store import SuppressionRepository
from tests.conftest import TABLE_NAMES

pytestmark = pytest.mark.usefixtures("aws")


@pytest.fixture
def store() -> SuppressionRepository:
    return SuppressionRepository(TABLE_NAMES["SuppressionsTable"])


def _entry(email: str, scope: str = ACCOUNT_WIDE, reason: Reason = Reason.BOUNCE) -> Suppression:
    return Suppression(
        email=email, scope=scope, reason=reason, added_at="2026-12-04T10:00:00+00:00"
    )


def test_a_lookup_past_one_batch_finds_every_entry_of_both_scopes(
    store: SuppressionRepository,
) -> None:
    addresses = [f"user{n}@example.com" for n in range(80)]  # 160 keys: two BatchGetItems
    store.put(_entry(addresses[3]))
    store.put(_entry(addresses[77], scope="email"))
    store.put(_entry(addresses[50], scope="billing"))  # another service's: not asked for

    found = store.among((ACCOUNT_WIDE, "email"), addresses)

    assert sorted((entry.scope, entry.email) for entry in found) == [
        (ACCOUNT_WIDE, addresses[3]),
        ("email", addresses[77]),
    ]


def test_pages_follow_each_other_to_the_end(store: SuppressionRepository) -> None:
    for n in range(7):
        store.put(_entry(f"user{n}@example.com", scope="email"))
    store.put(_entry("other@example.com"))

    seen: list[str] = []
    cursor = None
    while True:
        page = store.page(scope="email", reason=None, limit=3, cursor=cursor)
        assert len(page.entries) <= 3
        seen += [entry.email for entry in page.entries]
        if (cursor := page.next_cursor) is None:
            break

    assert seen == sorted(f"user{n}@example.com" for n in range(7))


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", "eyJhIjogMX0="])
def test_a_cursor_not_of_ours_is_refused(store: SuppressionRepository, cursor: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        store.page(scope=None, reason=None, limit=10, cursor=cursor)

    assert refused.value.reason == "invalid_cursor"
