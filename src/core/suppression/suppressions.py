"""The suppression list as the rest of core uses it: `add` (an admin, or a provider's bounce
and complaint events), `remove`, `page`, and `screen`, which a send calls before any
connection to split its recipients into those to send to and those suppressed."""

from __future__ import annotations

from dataclasses import dataclass

from core.addresses import parse_mailbox
from core.errors import AllRecipientsSuppressed, NotFound
from core.ports import Clock, SuppressionStore
from core.suppression.model import (
    ACCOUNT_WIDE,
    Reason,
    Source,
    Suppression,
    SuppressionPage,
    normalized,
    scopes_of,
)


@dataclass(frozen=True)
class Screened:
    """A message's envelope split by the list: `kept` to send to, `suppressed` dropped."""

    kept: list[str]
    suppressed: list[str]


class Suppressions:
    def __init__(self, store: SuppressionStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def add(
        self,
        email: str,
        reason: Reason,
        scope: str = ACCOUNT_WIDE,
        source: Source | None = None,
    ) -> Suppression:
        """Suppress `email` (validated, `InvalidRequest` if it is no address) for the services
        `scope` covers; an entry already there takes this reason and source."""
        address = normalized(parse_mailbox(email, None, "email").email)
        entry = Suppression(
            email=address,
            scope=scope,
            reason=reason,
            added_at=self._clock.now().isoformat(timespec="seconds"),
            source=source or Source(),
        )
        self._store.put(entry)
        return entry

    def remove(self, email: str, scope: str = ACCOUNT_WIDE) -> None:
        """Take `email` off the list of `scope`; `NotFound` if it is not on it."""
        if not self._store.delete(scope, normalized(email)):
            raise NotFound(
                f"'{email}' is not on the suppression list"
                + ("." if scope == ACCOUNT_WIDE else f" of service '{scope}'."),
                reason="suppression_not_found",
            )

    def page(
        self,
        *,
        service: str | None = None,
        reason: Reason | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> SuppressionPage:
        """One page of the list: of one scope (`service`, or `*` for account-wide entries)
        when given, else of all."""
        return self._store.page(scope=service, reason=reason, limit=limit, cursor=cursor)

    def screen(self, service: str, recipients: list[str]) -> Screened:
        """`recipients` of a send through `service`, less those suppressed account-wide or for
        that service: one read for all of them."""
        if not recipients:
            return Screened([], [])
        found = {
            entry.email
            for entry in self._store.among(
                scopes_of(service), {normalized(address) for address in recipients}
            )
        }
        suppressed = [address for address in recipients if normalized(address) in found]
        kept = [address for address in recipients if normalized(address) not in found]
        return Screened(kept, suppressed)

    def check_any_left(self, screened: Screened) -> None:
        """`AllRecipientsSuppressed` when the list leaves nobody to send to."""
        if not screened.kept:
            raise AllRecipientsSuppressed(
                "Every recipient is on the suppression list; nothing was sent.",
                context={"suppressed": screened.suppressed},
            )
