"""Who may talk to the local stack's unauthenticated ports: local programs, never a web page.

In AWS, IAM guards Lambda's Invoke API and every AWS service; locally nothing checks who calls
them, and a page open in the developer's browser can send requests to 127.0.0.1. So the Invoke
port and moto's port answer only what is plainly not a browser (`browser_refusal`):

- `Host` must name loopback: a DNS-rebound name reaches 127.0.0.1 but still says its own name;
- a request carrying `Origin` or any `Sec-Fetch-*` header comes from a browser: browsers add
  them to what they send to 127.0.0.1, SDKs and the AWS CLI never do. Neither port ever
  grants CORS, so a page cannot read an answer, nor send a header a preflight must clear.

Each port then asks for what its own callers send and a page cannot: moto's, an AWS SigV4
`Authorization` header naming the stack's access key id (`sigv4_access_key_id`); the Invoke
port, a payload labelled JSON or not at all.

Pure functions, so unit tests can pin them down.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

# Headers a browser adds by itself, and a page cannot remove.
_BROWSER_HEADER = re.compile(r"origin|sec-fetch-.*", re.IGNORECASE)
# `AWS4-HMAC-SHA256 Credential=<key id>/<date>/<region>/<service>/aws4_request, ...`
_SIGV4_CREDENTIAL = re.compile(r"AWS4-HMAC-SHA256\s+Credential=(?P<key_id>[^/,\s]+)/")
# With or without a port; a DNS name that merely resolves to loopback is not among them.
_LOOPBACK_HOST = re.compile(r"(?:127\.0\.0\.1|localhost|\[::1\])(?::[0-9]{1,5})?", re.IGNORECASE)


def is_loopback_host(values: Sequence[str] | None) -> bool:
    """Whether a request's Host headers are exactly one, naming loopback (any port)."""
    return (
        values is not None
        and len(values) == 1
        and _LOOPBACK_HOST.fullmatch(values[0].strip()) is not None
    )


def browser_headers(names: Iterable[str]) -> list[str]:
    """The header names among `names` that only a browser sends (Origin, Sec-Fetch-*)."""
    return sorted({name.title() for name in names if _BROWSER_HEADER.fullmatch(name)})


def browser_refusal(hosts: Sequence[str] | None, header_names: Iterable[str]) -> str | None:
    """Why a request may be a web page's, to follow the port's name in a 403; None if not."""
    if not is_loopback_host(hosts):
        return "answers only a loopback Host (127.0.0.1, localhost, [::1])."
    marks = browser_headers(header_names)
    if marks:
        return f"does not answer browsers ({', '.join(marks)})."
    return None


def sigv4_access_key_id(authorization: str | None) -> str | None:
    """The access key id an AWS SigV4 `Authorization` header is signed with, or None."""
    found = _SIGV4_CREDENTIAL.match(authorization.strip()) if authorization else None
    return found["key_id"] if found else None
