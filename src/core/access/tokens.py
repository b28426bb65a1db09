"""API key tokens: `<id>.<secret>`, where only a hash of the secret is ever stored.

The secret is 256 random bits, so a fast hash is as good as a slow one: nobody can guess
their way back from it. The id lets the authorizer fetch one record instead of scanning.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

_TOKEN = re.compile(r"(?P<id>[0-9a-f]{16})\.(?P<secret>[A-Za-z0-9_-]{43})")


def new_key_id() -> str:
    return secrets.token_hex(8)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def token_for(key_id: str, secret: str) -> str:
    return f"{key_id}.{secret}"


def split_token(token: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed token, or None."""
    # fullmatch: `$` would also let a trailing newline through.
    match = _TOKEN.fullmatch(token)
    return (match["id"], match["secret"]) if match else None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str | None) -> bool:
    return stored_hash is not None and hmac.compare_digest(hash_secret(secret), stored_hash)
