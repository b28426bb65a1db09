"""A DKIM-signing service through the local stack, as an admin sets it up and an app sends
through it: the service created over HTTP with its key, the app's DreamFactory-style send (JSON
as `application/json; charset=utf-8`, DreamFactory's empty session parameters), and the
`.eml` the capture server wrote verified with dkimpy against the record the connection test
gives (served from memory: no DNS). The Lambda processes sign with the pinned dkimpy."""

from __future__ import annotations

import json
import uuid
from typing import Any

import dkim
import pytest

from local_stack.mail_capture import read_captured
from tests.support.dkim_keys import dns_answering, rsa_key
from tests.support.stack_process import RunningStack

APP_HEADERS = {
    "Content-Type": "application/json; charset=utf-8",
    "Accept": "application/json, text/plain, */*",
}


@pytest.fixture(scope="module")
def signed(stack: RunningStack) -> tuple[str, str]:
    """A service named `signed-<suffix>` that signs as example.com, beside the stack's `email`
    (same capture server); its name and its key."""
    admin = {**APP_HEADERS, "X-DreamFactory-API-Key": stack.admin_key}
    email = stack.request("GET", "/api/v2/system/service/email", headers=admin).body["config"]
    name, key = f"signed-{uuid.uuid4().hex[:8]}", rsa_key()
    config = {
        "host": email["host"],
        "port": email["port"],
        "encryption": email["encryption"],
        "from_email": "shop@example.com",
        "dkim": {"domain": "example.com", "selector": "mail2026", "private_key": key},
    }
    created = stack.request(
        "POST",
        "/api/v2/system/service",
        body=json.dumps({"name": name, "type": "smtp_email", "config": config}),
        headers=admin,
    )
    assert created.status == 201, created.body
    assert created.body["config"]["dkim"] == {"domain": "example.com", "selector": "mail2026"}
    return name, key


def _send(stack: RunningStack, service: str, body: dict[str, Any]) -> dict[str, Any]:
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    answer = stack.request(
        "POST",
        f"/api/v2/{service}",
        body=raw,
        headers={**APP_HEADERS, "X-DreamFactory-API-Key": stack.admin_key},
        query="session_id=&session_token=",
    )
    assert answer.status == 200, answer.body
    sent: dict[str, Any] = answer.body
    return sent


def _eml(stack: RunningStack, message_id: str) -> bytes:
    [mail] = [m for m in read_captured(stack.mail_dir) if m.message_id == message_id]
    return mail.eml_path.read_bytes()


def test_a_message_sent_through_a_signing_service_verifies_against_its_record(
    stack: RunningStack, signed: tuple[str, str]
) -> None:
    name, key = signed
    admin = {"X-DreamFactory-API-Key": stack.admin_key}
    report = stack.request("POST", f"/api/v2/system/service/{name}/test", headers=admin).body
    record = report["dkim"]

    sent = _send(
        stack,
        name,
        {
            "to": [{"email": "zoe@example.com", "name": "Zoë Lee"}],
            "subject": "Bestätigung Ihrer Bestellung",
            "body_text": "Grüße,\n.und ein Punkt am Zeilenanfang\n",
            "body_html": "<p>Grüße</p>",
        },
    )

    eml = _eml(stack, sent["message_id"])
    assert eml.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com;")
    dns = dns_answering({record["record_name"]: record["record_value"]})
    assert dkim.verify(eml, dnsfunc=dns)
    assert record["record_name"] == "mail2026._domainkey.example.com"
    # The key itself never came back, nor reached the stack's log.
    body_lines = [line for line in key.splitlines() if line and not line.startswith("-----")]
    shown = json.dumps(report) + json.dumps(sent) + stack.log()
    assert not [line for line in body_lines if line in shown and line not in record["record_value"]]
