"""Looking a destination up within a deadline, for the outbound HTTP requests (attachment
URLs, OAuth2 token endpoints): the resolver's answer checked by the destination guard."""

from __future__ import annotations

import threading

from core.network.destination import (
    DestinationPolicy,
    Kind,
    classify_address,
    ip_literal,
    resolve,
)


class LookupTimedOut(Exception):
    """The resolver did not answer within the time given."""


def resolve_within(seconds: float, host: str, port: int, policy: DestinationPolicy) -> list[str]:
    """`resolve`, waited for at most `seconds`: getaddrinfo cannot be interrupted, so it runs
    in a daemon thread left to end when the resolver gives up; the caller does not wait."""
    outcome: list[list[str] | BaseException] = []

    def lookup() -> None:
        try:
            outcome.append(resolve(host, port, policy))
        except BaseException as error:  # handed to the caller's thread, raised there
            outcome.append(error)

    thread = threading.Thread(target=lookup, name="outbound-dns", daemon=True)
    thread.start()
    thread.join(max(0.0, seconds))
    if not outcome:
        raise LookupTimedOut
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def is_loopback(address: str) -> bool:
    """Whether `address` (an IP literal) is a loopback one."""
    parsed = ip_literal(address)
    return parsed is not None and classify_address(parsed) is Kind.LOOPBACK
