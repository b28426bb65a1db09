"""Listing message records, newest first, a page at a time, from indexes only (never a scan).

The rules, up front:

- A list reads one index partition after another: a service's (`by service`), or, across
  services, each month's from the newest (`by month`), within `since` / `until`. Both sort by
  creation time and id, so the newest come first and a page can end on any record.
- What no index key covers (status, recipient, tag, and the caller's role for a key that is
  not an admin's) is a filter the store applies while it reads; a page keeps reading until it
  has `limit` records or runs out, but reads at most `MAX_READS` times per request: then it
  answers what it has, with a cursor to go on from.
- The cursor says only where to go on (a partition and a sort key) and is bound to the list
  it came from: its checksum covers the caller's scope (service, role) and filters, so a
  cursor from another list, or changed by hand, is refused (`invalid_cursor`). Who may see
  what never comes from it: the partition must be one this list walks, and the role filter
  is the caller's own, so even a forged position can only skip within the caller's records.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from core.delivery.listing_index import Criteria, IndexName, Partition
from core.delivery.message_record import MessageRecord, Status
from core.errors import InvalidRequest

if TYPE_CHECKING:
    from core.ports import RecordIndex

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# Index reads one request may make: a filter that matches little must not keep a request
# reading (and billing) a whole month; the cursor goes on from where it stopped.
MAX_READS = 5
# Items one read evaluates when a filter applies (DynamoDB counts them before filtering).
FILTERED_READ_SIZE = 200
# No record is older than this (kept 30 days from acceptance and from each attempt, which
# may come up to 30 days after a schedule up to 30 days ahead): where a list across services
# with no `since` stops walking months.
OLDEST_RECORD = timedelta(days=100)


@dataclass(frozen=True)
class MessageQuery:
    """A list request. `service` None lists across services (admins only: the route says
    so); `role` None shows every role's records (admins), else only that role's."""

    service: str | None
    role: str | None
    status: Status | None = None
    recipient: str | None = None
    tag: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


@dataclass(frozen=True)
class MessagePage:
    records: list[MessageRecord]
    next_cursor: str | None


@dataclass(frozen=True)
class _Position:
    partition: str
    key: str


def list_messages(index: RecordIndex, query: MessageQuery, *, now: datetime) -> MessagePage:
    """A page of `query`'s records, newest first, and the cursor of the next (None: the end)."""
    if not 1 <= query.limit <= MAX_LIMIT:
        raise InvalidRequest(
            f"'limit' must be from 1 to {MAX_LIMIT}.",
            reason="invalid_limit",
            context={"field": "limit"},
        )
    criteria = _criteria(query)
    partitions = _partitions(query, now)
    scope = _scope(query)
    start = _read_cursor(query.cursor, scope, [p.value for p in partitions], criteria)
    if start is not None:
        partitions = partitions[[p.value for p in partitions].index(start.partition) :]
    found: list[MessageRecord] = []
    after = start.key if start is not None and start.key else None
    reads = 0
    while partitions and reads < MAX_READS:
        wanted = query.limit - len(found)
        page = index.newest(
            partitions[0],
            criteria,
            after=after,
            # One more than wanted: a page that ends a partition knows it has no next one.
            limit=FILTERED_READ_SIZE if criteria.filtered else wanted + 1,
        )
        reads += 1
        if len(page.records) >= wanted:
            found.extend(page.records[:wanted])
            more = len(page.records) > wanted or page.last_key is not None or len(partitions) > 1
            position = _Position(partitions[0].value, _key_of(found[-1]))
            return MessagePage(found, _write_cursor(position, scope) if more else None)
        found.extend(page.records)
        if page.last_key is None:
            partitions, after = partitions[1:], None
        else:
            after = page.last_key
    if not partitions:
        return MessagePage(found, None)
    # Out of reads: the next page goes on from where the last read stopped ("" being the top
    # of a partition not read yet).
    return MessagePage(found, _write_cursor(_Position(partitions[0].value, after or ""), scope))


def _key_of(record: MessageRecord) -> str:
    if record.list_key is None:  # an index only holds records that have it
        raise ValueError(f"Record {record.id} has no listing key.")
    return record.list_key


def _criteria(query: MessageQuery) -> Criteria:
    since, until = query.since, query.until
    if since is not None and until is not None and since > until:
        raise InvalidRequest(
            "'since' must not be after 'until'.", reason="invalid_range", context={"field": "since"}
        )
    # Sort keys are `<time to the microsecond>#id`: every key of a second `s` is above `s`
    # and below `s~`. (DynamoDB refuses an empty key value: "0" is below every year.)
    lowest = _second(since) if since is not None else "0"
    highest = (_second(until) if until is not None else "9999") + "~"
    recipient = _normalized_address(query.recipient) if query.recipient else None
    return Criteria(
        lowest=lowest,
        highest=highest,
        role=query.role,
        status=query.status,
        recipient=recipient,
        tag=query.tag,
    )


def _normalized_address(address: str) -> str:
    """As records keep addresses: the domain lower-cased, the local part as given."""
    local, at, domain = address.strip().rpartition("@")
    return f"{local}@{domain.lower()}" if at else address.strip()


def _second(moment: datetime) -> str:
    """`moment`'s second as a listing sort key begins (see `message_record.list_key`)."""
    # isoformat, not strftime: `%Y` leaves a year before 1000 unpadded on glibc ("18-01-01").
    return moment.astimezone(UTC).isoformat(timespec="seconds")[:19]


def _partitions(query: MessageQuery, now: datetime) -> list[Partition]:
    if query.service is not None:
        return [Partition(IndexName.BY_SERVICE, query.service)]
    newest = min(query.until or now, now + timedelta(days=1)).astimezone(UTC)
    oldest = max(query.since or now - OLDEST_RECORD, now - OLDEST_RECORD).astimezone(UTC)
    months = []
    year, month = newest.year, newest.month
    while (year, month) >= (oldest.year, oldest.month):
        months.append(Partition(IndexName.BY_MONTH, f"{year:04d}-{month:02d}"))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months


def _scope(query: MessageQuery) -> str:
    """What a cursor is bound to: everything that says which records the list holds."""
    bound = replace(query, limit=0, cursor=None)
    return json.dumps(asdict(bound), default=str, sort_keys=True)


def _checksum(scope: str, position: _Position) -> str:
    digest = hashlib.sha256(f"{scope}\n{position.partition}\n{position.key}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def _write_cursor(position: _Position, scope: str) -> str:
    body = {"p": position.partition, "k": position.key, "c": _checksum(scope, position)}
    return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()


def _read_cursor(
    cursor: str | None, scope: str, partitions: list[str], criteria: Criteria
) -> _Position | None:
    if cursor is None:
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        position = _Position(partition=body["p"], key=body["k"])
        checksum = body["c"]
    except (binascii.Error, UnicodeError, ValueError, KeyError, TypeError):
        raise _bad_cursor() from None
    if not (isinstance(position.partition, str) and isinstance(position.key, str)):
        raise _bad_cursor()
    if checksum != _checksum(scope, position) or position.partition not in partitions:
        raise _bad_cursor()
    # A key names a record (`<time>#id`) within the list's range, or is "" (the top).
    if position.key and not (
        criteria.lowest <= position.key <= criteria.highest and position_id(position.key)
    ):
        raise _bad_cursor()
    return position


def position_id(key: str) -> str:
    """The record id a listing sort key ends with (`<time>#id`)."""
    return key.rpartition("#")[2] if "#" in key else ""


def _bad_cursor() -> InvalidRequest:
    return InvalidRequest(
        "Invalid 'cursor': pass the `meta.next_cursor` of the previous page, with the same"
        " filters.",
        reason="invalid_cursor",
        context={"field": "cursor"},
    )
