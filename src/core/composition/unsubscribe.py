"""One-click unsubscribe: a send body's `list_unsubscribe` as the header fields mail clients
show an "Unsubscribe" button for.

`list_unsubscribe` is a URL, a `mailto:` URI, or a list holding at most one of each. It becomes
RFC 2369's `List-Unsubscribe: <https://...>, <mailto:...>` and, when the URL is https, RFC
8058's `List-Unsubscribe-Post: List-Unsubscribe=One-Click`: the receiver then unsubscribes with
one POST to that URL, with no page to click through (what Gmail and Yahoo require of bulk
senders). RFC 8058 asks for exactly one https URL, and a DKIM signature covering both fields.
A plain http URL is written too (older clients open it), without the one-click field.

Each entry is checked once its placeholders are filled in (a per-recipient token is the usual
case): a URL is https or http, with a host and no user name or password, in RFC 3986's
characters only (placeholder values are inserted as given: percent-encode them); a mailto's
address is checked as every address is (email-validator, ASCII), its `?subject=...` kept. No
entry may hold `<`, `>`, a space or a line break, so none can end its bracket or its field.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

from core.addresses import parse_mailbox, reject_line_breaks
from core.errors import InvalidRequest

FIELD = "list_unsubscribe"
# Each entry fits one line of its field (998 octets) with room to spare.
MAX_ENTRY_LENGTH = 900
ONE_CLICK = ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")

# RFC 3986's reserved and unreserved characters, and '%': no space, no '<', '>' or '"'.
_URI = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")


def check_entries(given: Any) -> list[str]:
    """`list_unsubscribe` as a list of one or two entries (checked for their form once
    rendered: `header_fields`), or a 400."""
    if given is None or given == "" or given == []:
        return []
    entries = [given] if isinstance(given, str) else given
    if not isinstance(entries, list) or not all(isinstance(entry, str) for entry in entries):
        raise _invalid("expected a URL, a mailto: URI, or a list of them")
    if len(entries) > 2:
        raise _invalid("give at most one https URL and one mailto: URI")
    for entry in entries:
        reject_line_breaks(entry, FIELD)
    return list(entries)


def header_fields(entries: list[str]) -> list[tuple[str, str]]:
    """The header fields (name, value) for the rendered `entries`: none, List-Unsubscribe, or
    List-Unsubscribe and List-Unsubscribe-Post; a 400 for an entry that cannot be one."""
    if not entries:
        return []
    checked = [_checked(entry) for entry in entries]
    schemes = [scheme for scheme, _ in checked]
    if schemes.count("mailto") > 1 or len(schemes) - schemes.count("mailto") > 1:
        raise _invalid("give at most one https URL and one mailto: URI")
    fields = [("List-Unsubscribe", ", ".join(f"<{uri}>" for _, uri in checked))]
    if "https" in schemes:
        fields.append(ONE_CLICK)
    return fields


def _checked(entry: str) -> tuple[str, str]:
    """(scheme, the URI as written in the field)."""
    shown = entry if len(entry) <= 100 else entry[:100] + "..."
    if len(entry) > MAX_ENTRY_LENGTH:
        raise _invalid(f"an entry is longer than {MAX_ENTRY_LENGTH} characters")
    if not _URI.fullmatch(entry):
        raise _invalid(
            f"{shown!r} holds a character a URI may not (percent-encode spaces and non-ASCII)"
        )
    scheme, _, rest = entry.partition(":")
    scheme = scheme.lower()
    if scheme == "mailto":
        return scheme, _mailto(rest)
    if scheme not in ("https", "http"):
        raise _invalid(f"{shown!r} is neither an https or http URL nor a mailto: URI")
    parts = urlsplit(entry)
    if not parts.hostname or "@" in parts.netloc:
        raise _invalid(f"{shown!r} needs a host, and no user name or password")
    return scheme, entry


def _mailto(rest: str) -> str:
    """`mailto:address[?query]` with the address checked as every address is."""
    address, question, query = rest.partition("?")
    mailbox = parse_mailbox(unquote(address), None, FIELD)
    return f"mailto:{mailbox.email}{question}{query}"


def _invalid(why: str) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid '{FIELD}': {why}.",
        reason="invalid_list_unsubscribe",
        context={"field": FIELD},
    )
