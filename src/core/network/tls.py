"""TLS client contexts, built once per process and shared by every send."""

from __future__ import annotations

import ssl
from functools import lru_cache


@lru_cache(maxsize=4)
def client_context(verify: bool, extra_ca_file: str = "") -> ssl.SSLContext:
    """The system trust store (plus an optional private CA bundle), or no checks at all.

    Turning verification off is a per-service choice (`verify_tls: false`), never a default.
    """
    context = ssl.create_default_context()
    if extra_ca_file:
        context.load_verify_locations(cafile=extra_ca_file)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
