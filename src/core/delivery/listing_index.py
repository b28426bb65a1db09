"""What one read of a message listing index asks and answers: the index and partition, the
bounds and filters of a list (`Criteria`), and a page of records. The listing rules are
`core.delivery.message_list`'s; the `RecordIndex` port (`core.ports`) takes and gives these.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.delivery.message_record import MessageRecord, Status


class IndexName(StrEnum):
    BY_SERVICE = "by_service"
    BY_MONTH = "by_month"


@dataclass(frozen=True)
class Partition:
    """One partition of a listing index: a service's name, or a month (`YYYY-MM`)."""

    index: IndexName
    value: str


@dataclass(frozen=True)
class Criteria:
    """What a list keeps: sort keys within [lowest, highest], and records matching every
    filter set (None: any)."""

    lowest: str
    highest: str
    role: str | None = None
    status: Status | None = None
    recipient: str | None = None
    tag: str | None = None

    @property
    def filtered(self) -> bool:
        return any(
            value is not None for value in (self.role, self.status, self.recipient, self.tag)
        )


@dataclass(frozen=True)
class IndexPage:
    """One read of a partition: the records that matched, newest first, and the sort key to
    go on after (None: the partition has no more)."""

    records: list[MessageRecord]
    last_key: str | None
