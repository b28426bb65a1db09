"""The audit trail of admin changes: who did what to which object, when. Never a secret."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from core.access.authentication import Principal
from core.clock import now_iso

logger = Logger(child=True)


def audit(principal: Principal, action: str, target: str, **details: Any) -> None:
    """One structured log line, e.g. action `api_key.rotate` on target `3f2a...`."""
    logger.info(
        "audit",
        extra={
            "audit": {
                "at": now_iso(),
                "actor_key_id": principal.key_id,
                "actor_role": principal.role.name,
                "action": action,
                "target": target,
                **details,
            }
        },
    )
