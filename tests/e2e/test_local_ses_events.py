"""`POST /_local/ses-events` on the local stack's API port: an SES event, bare or wrapped in
an SNS notification, through the SES events function; loopback programs only. And
`mailer ses-events replay`, which posts there."""

from __future__ import annotations

import io
import json
from pathlib import Path

from mailer_cli.main import main
from tests.support.stack_process import RunningStack

BOUNCE = {
    "eventType": "Bounce",
    "mail": {
        "timestamp": "2026-12-04T10:00:00.000Z",
        "source": "noreply@example.com",
        "messageId": "0100018c-no-such-message",
        "destination": ["gone@example.com"],
    },
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [{"emailAddress": "gone@example.com"}],
        "timestamp": "2026-12-04T10:00:05.000Z",
    },
}
JSON = {"Content-Type": "application/json"}


def test_an_sns_wrapped_event_about_an_unknown_message_is_dropped(stack: RunningStack) -> None:
    wrapped = {"Type": "Notification", "MessageId": "1", "Message": json.dumps(BOUNCE)}

    answer = stack.request("POST", "/_local/ses-events", body=json.dumps(wrapped), headers=JSON)

    assert answer.status == 200, answer.body
    assert answer.body == {"outcomes": ["unknown_message"]}


def test_a_bare_event_of_no_known_type_is_dropped(stack: RunningStack) -> None:
    answer = stack.request(
        "POST", "/_local/ses-events", body=json.dumps({"eventType": "Open"}), headers=JSON
    )

    assert (answer.status, answer.body) == (200, {"outcomes": ["dropped"]})


def test_a_web_page_may_not_replay_events(stack: RunningStack) -> None:
    answer = stack.request(
        "POST",
        "/_local/ses-events",
        body=json.dumps(BOUNCE),
        headers={**JSON, "Origin": "https://example.com"},
    )

    assert answer.status == 403


def test_the_cli_replays_a_file_of_events_through_the_stack(
    stack: RunningStack, tmp_path: Path
) -> None:
    events = tmp_path / "events.json"
    wrapped = {"Type": "Notification", "MessageId": "1", "Message": json.dumps(BOUNCE)}
    events.write_text(json.dumps([BOUNCE, wrapped, {"eventType": "Open"}]))
    out, err = io.StringIO(), io.StringIO()

    status = main(
        ["ses-events", "replay", str(events), "--url", f"{stack.api_url}/api/v2"],
        stdout=out,
        stderr=err,
    )

    assert (status, err.getvalue()) == (0, "")
    assert out.getvalue().splitlines() == [
        f"{events}[0]: unknown_message",
        f"{events}[1]: unknown_message",
        f"{events}[2]: dropped",
    ]
