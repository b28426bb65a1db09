"""An in-memory suppression list (unit tests), keyed and paged as the DynamoDB one is; it
counts its reads, so a test can see that a send asked once for all its recipients."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from core.errors import InvalidRequest
from core.ports import SuppressionStore
from core.suppression.model import Reason, Suppression, SuppressionPage


@dataclass
class FakeSuppressionStore:
    entries: dict[tuple[str, str], Suppression] = field(default_factory=dict)
    reads: int = 0

    def put(self, entry: Suppression) -> None:
        self.entries[(entry.scope, entry.email)] = entry

    def get(self, scope: str, email: str) -> Suppression | None:
        return self.entries.get((scope, email))

    def delete(self, scope: str, email: str) -> bool:
        return self.entries.pop((scope, email), None) is not None

    def among(self, scopes: Iterable[str], emails: Iterable[str]) -> list[Suppression]:
        self.reads += 1
        wanted = set(emails)
        return [
            entry
            for scope in scopes
            for (kept_scope, email), entry in sorted(self.entries.items())
            if kept_scope == scope and email in wanted
        ]

    def page(
        self, *, scope: str | None, reason: Reason | None, limit: int, cursor: str | None
    ) -> SuppressionPage:
        # The cursor is the position after which the page starts, opaque as the real one.
        start = 0
        if cursor is not None:
            if not cursor.isdigit():
                raise InvalidRequest("Invalid cursor.", reason="invalid_cursor")
            start = int(cursor)
        listed = [
            entry
            for key, entry in sorted(self.entries.items())
            if (scope is None or key[0] == scope) and (reason is None or entry.reason is reason)
        ]
        end = start + limit
        return SuppressionPage(
            entries=listed[start:end], next_cursor=str(end) if end < len(listed) else None
        )


_: SuppressionStore = FakeSuppressionStore()
