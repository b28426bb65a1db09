"""The first admin step, done for you: an `email` service pointing at the capture server.

It goes through the admin API over HTTP, as an operator's first call would, so a stack that
reports ready has answered at least one real request.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from local_stack.config import HOST, LocalConfig

SERVICE_NAME = "email"
DEFAULT_FROM_NAME = "Local Email API"
DEFAULT_FROM_EMAIL = "noreply@example.com"


def service_definition(smtp_port: int) -> dict[str, Any]:
    """The `email` service: plain SMTP to the capture server, with sender defaults."""
    return {
        "name": SERVICE_NAME,
        "label": "Local capture",
        "description": "Delivers nothing: every message is written to the local mail folder.",
        "config": {
            "host": HOST,
            "port": smtp_port,
            "encryption": "none",
            "from_name": DEFAULT_FROM_NAME,
            "from_email": DEFAULT_FROM_EMAIL,
        },
    }


def create_email_service(config: LocalConfig) -> dict[str, Any]:
    """POST the service to the admin API; returns the created service, or raises with the answer."""
    request = urllib.request.Request(  # noqa: S310  # a fixed http URL on loopback
        f"{config.api_url}/api/v2/system/service",
        data=json.dumps(service_definition(config.smtp_port)).encode(),
        headers={"Content-Type": "application/json", "X-DreamFactory-API-Key": config.admin_key},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            created: dict[str, Any] = json.load(answer)
    except urllib.error.HTTPError as error:
        raise RuntimeError(
            f"Creating the '{SERVICE_NAME}' service failed: {error.code} {error.read().decode()}"
        ) from error
    return created
