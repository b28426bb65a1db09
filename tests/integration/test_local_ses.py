"""The local stack's SES: moto's server as the stack runs it, the identities verified as at
start, and a message sent through the SES transport landing in the mail folder as captured SMTP
mail does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from core.transport.base import Deadline, Envelope
from core.transport.ses import SesFailure, SesTransport
from local_stack.environment import LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY, REGION
from local_stack.mail_capture import MailFolder, read_captured
from local_stack.moto_server import MotoServer
from local_stack.ses import verify_identities
from local_stack.state_store import StateStore
from tests.support.local_moto import forget_moto

MESSAGE = (
    b"From: Local <noreply@example.com>\r\nTo: dev@example.net\r\nSubject: hello\r\n"
    b"Message-ID: <local-1@example.com>\r\n\r\nSent through moto's SES.\r\n"
)


@pytest.fixture
def mail_dir(tmp_path: Path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
def local_ses(
    tmp_path: Path, mail_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MotoServer]:
    """The stack's moto server with its SES capture, boto3 pointed at it as the stack does."""
    forget_moto()
    state = StateStore(tmp_path / "state")
    server = MotoServer(0, state, ses_mail=MailFolder(mail_dir))
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", LOCAL_ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", LOCAL_SECRET_ACCESS_KEY)
    # boto3's default session keeps the credentials it first found: start a fresh one.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    try:
        verify_identities(["example.com"])
        yield server
    finally:
        server.stop()
        state.close()
        forget_moto()


@pytest.mark.usefixtures("local_ses")
def test_what_ses_sends_lands_in_the_mail_folder_as_sent(mail_dir: Path) -> None:
    envelope = Envelope("noreply@example.com", ["dev@example.net", "hidden@example.org"])

    with SesTransport(REGION) as transport:
        delivery = transport.send(MESSAGE, envelope, Deadline.after(10))

    (captured,) = read_captured(mail_dir)
    assert captured.eml_path.read_bytes() == MESSAGE
    assert captured.mail_from == "noreply@example.com"
    assert captured.rcpt_tos == ["dev@example.net", "hidden@example.org"]
    assert captured.message_id == "<local-1@example.com>"
    sidecar = json.loads(captured.eml_path.with_suffix(".json").read_text())
    assert sidecar["provider_message_id"] == delivery.provider_message_id


@pytest.mark.usefixtures("local_ses")
def test_a_sender_outside_the_verified_identities_is_refused_and_nothing_lands(
    mail_dir: Path,
) -> None:
    with pytest.raises(SesFailure) as refused:
        SesTransport(REGION).send(
            MESSAGE, Envelope("someone@elsewhere.test", ["dev@example.net"]), Deadline.after(10)
        )

    assert refused.value.reason == "ses_rejected"
    assert not mail_dir.exists() or read_captured(mail_dir) == []


@pytest.mark.usefixtures("local_ses")
def test_a_local_ses_service_s_connection_test_passes_for_a_verified_domain() -> None:
    log = SesTransport(REGION, sender="noreply@example.com").inspect(Deadline.after(10))

    assert log.failure is None
    assert [stage for stage, _ in log.marks] == ["account", "identity"]
    assert log.account is not None
    assert log.account.production_access
    assert log.identity is not None
    assert log.identity.identity == "example.com"
