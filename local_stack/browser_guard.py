"""Who may talk to the local stack's unauthenticated ports: local programs, never a web page.

In AWS, IAM guards Lambda's Invoke API and every AWS service; locally nothing checks who calls
them, and a page open in the developer's browser can send requests to 127.0.0.1. So the Invoke
port answers only what is plainly not a browser:

- `Host` must name loopback: a DNS-rebound name reaches 127.0.0.1 but still says its own name.

Pure functions, so unit tests can pin them down.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# With or without a port; a DNS name that merely resolves to loopback is not among them.
_LOOPBACK_HOST = re.compile(r"(?:127\.0\.0\.1|localhost|\[::1\])(?::[0-9]{1,5})?", re.IGNORECASE)


def is_loopback_host(values: Sequence[str] | None) -> bool:
    """Whether a request's Host headers are exactly one, naming loopback (any port)."""
    return (
        values is not None
        and len(values) == 1
        and _LOOPBACK_HOST.fullmatch(values[0].strip()) is not None
    )
