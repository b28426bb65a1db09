"""Timestamps as the API shows and stores them: UTC, ISO 8601, whole seconds."""

from __future__ import annotations

from datetime import UTC, datetime


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value)


class SystemClock:
    """The `Clock` of a running function: the machine's time, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)
