"""A service's `suppression_scope`: whose sends a permanent bounce or a complaint about one
of its messages stops (see `core.events.apply`)."""

from __future__ import annotations

from enum import StrEnum


class SuppressionScope(StrEnum):
    # Every service's: the address goes on the account-wide list (scope `*`).
    ACCOUNT = "account"
    # This service's alone (scope: the service's name); other services still mail it. For a
    # service whose recipients are another party's (a tenant's), whose bounces must not stop
    # the rest of the account's mail.
    SERVICE = "service"
