"""What the factory hands every kind of transport it builds (`core.transport.factory`)."""

from __future__ import annotations

from dataclasses import dataclass

from core.oauth2.cache import TokenCache
from core.ports import CredentialSource


@dataclass(frozen=True)
class Supplies:
    """Where secrets come from, and the process's settings a transport may need."""

    credentials: CredentialSource
    ehlo_name: str  # the name SMTP's EHLO gives
    ca_file: str  # a private CA bundle trusted on top of the system's ("" for none)
    # The process's OAuth2 access tokens (SMTP's XOAUTH2); None: OAuth2 services cannot send.
    tokens: TokenCache | None = None
