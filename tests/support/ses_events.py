"""SES's event publishing as the events function gets it: an event in SNS's notification
(`sns_envelope`, as SNS also hands it to the events queue), and the function invoked as SNS
invokes it (`through_sns`) or with the bare event (`directly`); plus the `email` service of
type `ses` whose events they are (`SES_SERVICE`, the integration tests' `ses` fixture)."""

from __future__ import annotations

import json
from typing import Any

from local_stack.apigateway import LocalLambdaContext

SES_SENDER = "noreply@example.com"
# The `email` service the `ses` fixture creates: SES's API in eu-west-1, its messages naming
# the configuration set `events` (whose event destination is the events function).
SES_SERVICE = {"region": "eu-west-1", "configuration_set": "events", "from_email": SES_SENDER}


def sns_envelope(event: dict[str, Any]) -> str:
    """The notification SNS sends for `event` (the event itself as a string: `Message`)."""
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
            "TopicArn": "arn:aws:sns:eu-west-1:123456789012:ses-events",
            "Message": json.dumps(event),
            "Timestamp": "2026-12-04T10:00:01.000Z",
        }
    )


def through_sns(*events: dict[str, Any]) -> list[str]:
    """Each event as SNS invokes the events function with it (one record); the outcomes."""
    outcomes: list[str] = []
    for event in events:
        notification = json.loads(sns_envelope(event))
        record = {"EventSource": "aws:sns", "EventVersion": "1.0", "Sns": notification}
        outcomes.extend(directly({"Records": [record]}))
    return outcomes


def directly(invocation: dict[str, Any]) -> list[str]:
    """The events function invoked with `invocation` (a bare event, or any source's); the
    outcomes."""
    from handlers import ses_events  # late: the handler reads settings on import

    answer = ses_events.lambda_handler(invocation, LocalLambdaContext().typed())
    outcomes: list[str] = answer["outcomes"]
    return outcomes
