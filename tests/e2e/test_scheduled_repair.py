"""The repair of lost jobs through the local stack: its scheduler runs the repair function as
EventBridge would, and a record left holding its job past the grace is queued again and sent
once."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from local_stack.environment import LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY, table_names
from local_stack.mail_capture import read_captured
from tests.e2e.test_queue import in_seconds, queue, wait_for_status
from tests.support.events import EVENTS_API_KEY, send_body
from tests.support.stack_process import RunningStack, start_stack


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[RunningStack]:
    """A stack whose scheduler runs the repair twice a second, with a grace of a second."""
    running = start_stack(
        tmp_path,
        admin_key=EVENTS_API_KEY,
        extra_env={"LOCAL_SCHEDULE_SECONDS": "0.5", "OUTBOX_GRACE_SECONDS": "1"},
    )
    try:
        yield running
    finally:
        running.stop()


def test_a_lost_job_is_queued_again_by_the_scheduled_repair(stack: RunningStack) -> None:
    """A message scheduled an hour ahead holds its job; made to look lost (its job due, and
    sent at once, ten seconds ago) in moto's table, it is found by the repair the scheduler
    runs, queued again and delivered once, long before its original (delayed) job returns."""
    accepted = queue(stack, {**send_body("send-basic.json"), "send_at": in_seconds(3600)})
    assert accepted.status == 202, accepted.body
    table = boto3.resource(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{stack.moto_port}",
        region_name="us-east-1",
        aws_access_key_id=LOCAL_ACCESS_KEY_ID,
        aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY,
    ).Table(table_names()["MessagesTable"])
    record_id = accepted.body["id"]
    job = json.loads(str(table.get_item(Key={"id": record_id})["Item"]["outbox"]))
    job.pop("send_at")
    table.update_item(
        Key={"id": record_id},
        UpdateExpression="SET outbox = :job, outbox_due = :due",
        ExpressionAttributeValues={":job": json.dumps(job), ":due": int(time.time()) - 10},
    )

    sent = wait_for_status(stack, record_id, "sent")

    assert sent["attempts"] == 1
    captured = [m for m in read_captured(stack.mail_dir) if m.message_id == sent["message_id"]]
    assert len(captured) == 1
    assert "lost job queued again" in stack.log()
