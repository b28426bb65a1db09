"""SES events function: SES's event destination (an SNS topic, see template.yaml) publishes
each send, delivery, bounce, complaint, reject and delivery-delay event of the deployment's
configuration set; the topic delivers it to the events queue (the SNS envelope as the body),
and the queue hands them here in batches. Each moves the message's recipients on
(`core.events.apply`).

A record that fails (a DynamoDB fault, events that kept racing) is a batch item failure: the
queue redelivers it after its visibility timeout, and after its last receive keeps it in its
dead-letter queue. So does an event about a message no record knows yet, while its mail is
young (`core.events.not_yet_known`: SES may publish before the send wrote SES's id to the
record). An event that can never apply (unreadable, or about an older message no record has,
e.g. one sent by another sender of the configuration set) is logged and dropped.

Invoked with anything else (`sam local invoke`, the local stack's `POST /_local/ses-events`),
it applies the event once and answers each outcome: a bare event, SNS's invocation (one
record, `Sns`) or EventBridge's form (the SES event in `detail`).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from core import runtime
from core.clock import SystemClock
from core.errors import InvalidRequest
from core.events.apply import Applied
from core.events.not_yet_known import worth_retrying
from core.events.ses_event import SesEvent, parse_ses_event
from core.settings import check_settings
from handlers.observed import entry_point, logger
from handlers.queue_batches import ComeBackLater, partial_batch_processor, receives

check_settings()
processor = partial_batch_processor()
clock = SystemClock()


def read_event(payload: Any) -> SesEvent | None:
    """The SES event in `payload` (bare, SNS-wrapped or EventBridge's); None, logged, if none."""
    try:
        return parse_ses_event(payload)
    except InvalidRequest as unreadable:
        logger.warning("Dropped an unreadable SES event", reason=str(unreadable))
        return None


def apply_event(event: SesEvent, *, retrying: bool = False) -> Applied:
    """`event` applied, and logged (a warning for one no record knows, unless it is retried)."""
    outcome = runtime.event_applier().apply(event)
    unknown = outcome is Applied.UNKNOWN_MESSAGE
    log = logger.warning if unknown and not retrying else logger.info
    log(
        "SES event",
        event_type=event.type.value,
        provider_message_id=event.provider_message_id,
        outcome="retried later" if unknown and retrying else outcome.value,
    )
    return outcome


def apply_queued(record: SQSRecord) -> None:
    """One record of the events queue: its body is SNS's envelope around the SES event."""
    event = read_event(record.body)
    if event is None:
        return
    retrying = worth_retrying(event, receives(record), clock.now())
    if apply_event(event, retrying=retrying) is Applied.UNKNOWN_MESSAGE and retrying:
        raise ComeBackLater(f"no record has SES message {event.provider_message_id} yet")


def apply_invoked(payload: Any) -> str:
    event = read_event(payload)
    return "dropped" if event is None else apply_event(event).value


@entry_point()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records") or []
    if records and all(record.get("eventSource") == "aws:sqs" for record in records):
        return dict(
            process_partial_response(
                event=event, record_handler=apply_queued, processor=processor, context=context
            )
        )
    payloads = [record["Sns"] for record in records] if records else [event]
    return {"outcomes": [apply_invoked(payload) for payload in payloads]}
