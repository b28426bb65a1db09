"""`GET /api/v2/health`: is the API up? No key, and nothing in the answer a stranger may
not see: the status and the API's version.

It reads no table: a route anyone may call must cost nothing but the invocation (DynamoDB,
Secrets Manager and SMTP are watched by the alarms, `template.yaml`), and an answer means
the function started, which is when its settings were checked (`check_settings`).
"""

from __future__ import annotations

from typing import Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel, ConfigDict

from handlers.answers import documented
from handlers.documentation import HEALTH_PATH, VERSION

router = Router()


class HealthAnswer(BaseModel):
    """`{"status": "ok", "version": "1.0.0"}`."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "ok", "version": VERSION}]}
    )

    status: Literal["ok"]
    version: str


@router.get(
    HEALTH_PATH,
    summary="Is the API up?",
    description="Answers `ok` and the API's version, to anyone: no key, and nothing else.",
    tags=["health"],
    responses={200: documented("The API answers.", HealthAnswer)},
)
def get_health() -> HealthAnswer:
    return HealthAnswer(status="ok", version=VERSION)
