"""What can go wrong, one class per exit status `main` gives it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class UsageError(Exception):
    """The command line asks for something that cannot work (exit status 2)."""


class Unreachable(Exception):
    """No answer from the API: refused, reset, unresolvable, or too slow (exit status 3)."""


class ApiError(Exception):
    """The API answered with an error status; `body` is its envelope (exit status 1)."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str]) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.headers = dict(headers)

    def summary(self) -> str:
        """One line: the status, and the reason and message as far as the answer has them."""
        summary = f"the API answered {self.status}"
        envelope = self.body.get("error", self.body) if isinstance(self.body, dict) else None
        # Not always the API's envelope: a gateway or proxy in front may say `{"message": ...}`.
        if isinstance(envelope, dict):
            if envelope.get("reason"):
                summary += f" ({envelope['reason']})"
            if envelope.get("message"):
                summary += f": {envelope['message']}"
        return summary

    @property
    def retry_after(self) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == "retry-after"), None)
