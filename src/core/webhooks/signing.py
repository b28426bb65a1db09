"""The signature a webhook call carries, and its secret.

`X-Webhook-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`, the timestamp
being `X-Webhook-Timestamp` (unix seconds): signing it with the body lets a receiver refuse
an old call replayed, and `v1=` lets a later scheme sit beside this one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105  # a label, not a secret
SCHEME = "v1"


def new_secret() -> str:
    """A fresh signing secret: 32 random bytes, URL-safe base64, after `whsec_`."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Webhook-Signature` value of `body` sent at `timestamp`."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"
