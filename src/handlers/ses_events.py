"""SES events function: SES's event destination (an SNS topic, see template.yaml) hands it
each send, delivery, bounce, complaint, reject and delivery-delay event of the deployment's
configuration set; each moves the message's recipients on (`core.events.apply`).

SNS invokes a function with one record, asynchronously: an error makes Lambda retry the
invocation. So only what may pass is raised (a DynamoDB fault, racing writes); an event that
can never apply (unreadable, or about a message no record has, e.g. one sent before this
deployment, or by another sender of the configuration set) is logged and dropped.
EventBridge's form (the SES event in `detail`) is taken as well.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from core import runtime
from core.errors import InvalidRequest
from core.events.apply import Applied
from core.events.ses_event import parse_ses_event
from core.settings import check_settings

check_settings()
logger = Logger()


def apply_event(payload: Any) -> Applied | None:
    """One event, bare, SNS-wrapped or EventBridge's; None when it is no SES event."""
    try:
        event = parse_ses_event(payload)
    except InvalidRequest as unreadable:
        logger.warning("Dropped an unreadable SES event", reason=str(unreadable))
        return None
    outcome = runtime.event_applier().apply(event)
    log = logger.warning if outcome is Applied.UNKNOWN_MESSAGE else logger.info
    log(
        "SES event",
        event_type=event.type.value,
        provider_message_id=event.provider_message_id,
        outcome=outcome.value,
    )
    return outcome


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, list[str]]:
    records = event.get("Records")
    payloads = [record["Sns"] for record in records] if records else [event]
    outcomes = [apply_event(payload) for payload in payloads]
    return {"outcomes": [outcome.value if outcome else "dropped" for outcome in outcomes]}
