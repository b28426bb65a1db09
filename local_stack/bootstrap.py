"""The first admin step, done for you: an `email` service pointing at the capture server.

It goes through the admin API over HTTP, as an operator's first call would, so a stack that
reports ready has answered at least one real request. On a restart the service is usually
there already (the state directory kept it): it is left as the user left it, except that it
follows the capture server to another LOCAL_SMTP_PORT.
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
# How long one of the start's admin API calls may take: two cold starts and the call.
BOOTSTRAP_CALL_TIMEOUT_SECONDS = 90


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
    """Make sure the `email` service exists and reaches the capture server; returns it, or
    raises with the admin API's answer."""
    path = f"/api/v2/system/service/{SERVICE_NAME}"
    existing = _call(config, "GET", path, missing_ok=True)
    if not existing:
        return _call(config, "POST", "/api/v2/system/service", service_definition(config.smtp_port))
    ours = existing.get("config") or {}
    if ours.get("host") == HOST and ours.get("port") != config.smtp_port:
        # Still pointed at a capture server on loopback, but an earlier run's port.
        return _call(config, "PATCH", path, {"config": {"port": config.smtp_port}})
    return existing


def _call(
    config: LocalConfig,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    missing_ok: bool = False,
) -> dict[str, Any]:
    """The admin API's answer; with `missing_ok`, a 404 is an empty one."""
    request = urllib.request.Request(  # noqa: S310  # a fixed http URL on loopback
        f"{config.api_url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-DreamFactory-API-Key": config.admin_key},
        method=method,
    )
    try:
        # The stack's first calls cold-start the authorizer and the API function (each may
        # take up to the containers' 30 s init): a busy machine took over 10 s, and the stack
        # exited at start.
        with urllib.request.urlopen(request, timeout=BOOTSTRAP_CALL_TIMEOUT_SECONDS) as answer:  # noqa: S310
            answered: dict[str, Any] = json.load(answer)
    except urllib.error.HTTPError as error:
        if missing_ok and error.code == 404:
            return {}
        raise RuntimeError(
            f"{method} {path} for the '{SERVICE_NAME}' service failed:"
            f" {error.code} {error.read().decode()}"
        ) from error
    return answered
