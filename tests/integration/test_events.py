"""Every file in `events/` through the handler it is meant for, with moto and a capture server.

`sam local invoke` users and the e2e tests replay these files; here each one runs directly
against the real handler so a change to the API cannot leave them stale.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from local_stack.apigateway import LocalLambdaContext, rest_api_event
from local_stack.bootstrap import service_definition
from local_stack.mail_capture import MailCapture, read_captured
from tests.support.api import call_api
from tests.support.events import EVENTS_API_KEY, EVENTS_DIR, SEND_EVENTS, event_files, is_api_event
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


@pytest.mark.usefixtures("email_service")
@pytest.mark.parametrize("path", event_files(), ids=lambda path: path.name)
def test_event_succeeds_in_its_handler(path: Path, capture: MailCapture) -> None:
    from handlers import api, invoke

    event = json.loads(path.read_text())
    if is_api_event(event):
        # The shape the local gateway builds, so both kinds of replay see the same event.
        assert event.keys() == rest_api_event("GET", "/").keys()
        answer = api.lambda_handler(event, LocalLambdaContext())
        assert answer["statusCode"] in (200, 201), answer["body"]
        result = json.loads(answer["body"])
    else:
        result = invoke.lambda_handler(event, LocalLambdaContext())
        assert "error" not in result, result

    if "message_id" in result:
        (mail,) = [
            m for m in read_captured(capture.mail_dir) if m.message_id == result["message_id"]
        ]
        assert result["count"] == len(mail.rcpt_tos)


def test_readme_explains_every_event() -> None:
    readme = (EVENTS_DIR / "README.md").read_text()
    assert [path.name for path in event_files() if path.name not in readme] == []
    assert all((EVENTS_DIR / name).is_file() for name in SEND_EVENTS)
