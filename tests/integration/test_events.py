"""Every file in `events/` through the handler it is meant for, with moto and a capture server.

`sam local invoke` users and the e2e tests replay these files; here each one runs directly
against the real handler so a change to the API cannot leave them stale.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from core import runtime
from core.delivery.job import Job
from core.delivery.message_record import MessageRecord, Status
from local_stack.apigateway import LocalLambdaContext, rest_api_event
from local_stack.bootstrap import service_definition
from local_stack.mail_capture import MailCapture, read_captured
from tests.support.api import call_api
from tests.support.events import (
    EVENTS_API_KEY,
    EVENTS_DIR,
    SEND_EVENTS,
    event_files,
    is_api_event,
    is_scheduled_event,
    is_sqs_event,
    load_event,
)
from tests.support.network import free_port


@pytest.fixture
def capture(tmp_path: Path) -> Iterator[MailCapture]:
    server = MailCapture(free_port(), tmp_path / "mail")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def email_service(aws: None, capture: MailCapture) -> None:
    """The events' fake key as admin key, and the `email` service the send events name."""
    boto3.client("secretsmanager").put_secret_value(
        SecretId=os.environ["ADMIN_KEY_SECRET_ID"], SecretString=EVENTS_API_KEY
    )
    created = call_api(
        "POST",
        "/api/v2/system/service",
        service_definition(capture.port),
        api_key=EVENTS_API_KEY,
    )
    assert created.status == 201, created.body


@pytest.fixture
def events_queue(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The send queue the worker retries through, in moto (no staging bucket: the event's job
    carries its message inline)."""
    url = boto3.client("sqs").create_queue(QueueName="email-api-send-queue")["QueueUrl"]
    monkeypatch.setenv("SEND_QUEUE_URL", url)
    runtime.reset()
    return url


def queued_records(event: dict[str, Any]) -> list[Job]:
    """What the API function did before the queue got the SQS event's jobs: their records."""
    jobs = [Job.model_validate_json(record["body"]) for record in event["Records"]]
    for job in jobs:
        assert job.message is not None
        runtime.message_repository().create(
            MessageRecord(
                id=job.id,
                service=job.service,
                key_id=job.key_id,
                message_id=job.message.message_id,
                status=Status.QUEUED,
                recipients=job.message.envelope_recipients(),
            )
        )
    return jobs


@pytest.mark.usefixtures("email_service", "events_queue")
@pytest.mark.parametrize("path", event_files(), ids=lambda path: path.name)
def test_event_succeeds_in_its_handler(path: Path, capture: MailCapture) -> None:
    from handlers import api, invoke, repair, worker

    event = json.loads(path.read_text())
    if is_scheduled_event(event):
        # Nothing was lost: the repair finds nothing to queue again.
        result = repair.lambda_handler(event, LocalLambdaContext().typed())
        assert result == {"requeued": 0}
    elif is_sqs_event(event):
        (job,) = queued_records(event)
        answer = worker.lambda_handler(event, LocalLambdaContext().typed())
        # Nothing to come back for: SQS deletes the whole batch.
        assert answer == {"batchItemFailures": []}
        record = runtime.message_repository().get(job.id)
        assert record.status is Status.SENT, record
        assert job.message is not None
        result = {"message_id": job.message.message_id, "count": len(record.accepted)}
    elif is_api_event(event):
        # The shape the local gateway builds, so both kinds of replay see the same event.
        assert event.keys() == rest_api_event("GET", "/").keys()
        reply = api.lambda_handler(event, LocalLambdaContext().typed())
        assert reply["statusCode"] in (200, 201), reply["body"]
        result = json.loads(reply["body"])
    else:
        result = invoke.lambda_handler(event, LocalLambdaContext().typed())
        assert "error" not in result, result

    if "message_id" in result:
        (mail,) = [
            m for m in read_captured(capture.mail_dir) if m.message_id == result["message_id"]
        ]
        assert result["count"] == len(mail.rcpt_tos)


@pytest.mark.usefixtures("email_service", "events_queue")
def test_a_redelivered_sqs_batch_sends_nothing_twice(capture: MailCapture) -> None:
    from handlers import worker

    event = load_event("sqs-batch.json")
    (job,) = queued_records(event)

    first = worker.lambda_handler(event, LocalLambdaContext().typed())
    again = worker.lambda_handler(event, LocalLambdaContext().typed())

    assert first == again == {"batchItemFailures": []}
    assert job.message is not None
    sent = [m for m in read_captured(capture.mail_dir) if m.message_id == job.message.message_id]
    assert len(sent) == 1
    assert runtime.message_repository().get(job.id).attempts == 1


def test_readme_explains_every_event() -> None:
    readme = (EVENTS_DIR / "README.md").read_text()
    assert [path.name for path in event_files() if path.name not in readme] == []
    assert all((EVENTS_DIR / name).is_file() for name in SEND_EVENTS)
