"""A service that signs its mail with DKIM (issue 21), through the admin API and every path
that sends: the message a real SMTP server on loopback received verifies with dkimpy against
the public key (served from memory: no DNS), plain, with attachments and non-ASCII headers,
queued and sent by the worker in a pipelined batch, and through SES's API. The key lives in
Secrets Manager beside the password; no GET, answer or log line ever shows it; a bad key is a
400 with nothing stored; a PATCH replaces, keeps or removes it; the connection test gives the
DNS record to publish."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from email.parser import BytesHeaderParser
from typing import Any

import boto3
import dkim
import pytest

from core import runtime
from core.dkim.keys import UnusableKey, parse_key
from tests.support.api import ApiResponse, call_api, create_service
from tests.support.dkim_keys import dns_answering, ed25519_key, rsa_key
from tests.support.queue_worker import SendQueue
from tests.support.ses_endpoint import SesEndpoint
from tests.support.smtp_servers import LOOPBACK, MESSAGE_DATA, CaptureServer, FaultServer

pytestmark = pytest.mark.usefixtures("aws")

SECRET_ID = "email-api/services/email"
SENDER = "shop@example.com"
PASSWORD = "correct horse battery staple"


def _dkim(key: str, selector: str = "mail2026", domain: str = "example.com") -> dict[str, str]:
    return {"domain": domain, "selector": selector, "private_key": key}


def _service(port: int, key: str, **config: Any) -> dict[str, Any]:
    return create_service(
        {
            "host": LOOPBACK,
            "port": port,
            "encryption": "none",
            "from_email": SENDER,
            "dkim": _dkim(key),
            **config,
        }
    )


def _send(body: dict[str, Any] | None = None, **options: Any) -> ApiResponse:
    message = body or {"to": "john@example.org", "subject": "Your order", "body_text": "Hi"}
    return call_api("POST", "/api/v2/email", message, **options)


def _verifies(data: bytes, key: str, selector: str = "mail2026") -> bool:
    record = {f"{selector}._domainkey.example.com": parse_key(key).dns_record_value()}
    return bool(dkim.verify(data, dnsfunc=dns_answering(record)))


def _signature_tags(data: bytes) -> dict[str, str]:
    [field] = BytesHeaderParser().parsebytes(data).get_all("DKIM-Signature", [])
    tags = (tag.split("=", 1) for tag in "".join(str(field).split()).split(";") if tag)
    return {name: value for name, value in tags}


def _key_lines(key: str) -> list[str]:
    """The PEM's lines of base64, less any that the public record shares (both carry the
    modulus, which is public)."""
    try:
        public = parse_key(key).dns_record_value()
    except UnusableKey:
        public = ""
    lines = (line for line in key.splitlines() if line and not line.startswith("-----"))
    return [line for line in lines if line not in public]


def _assert_no_key(key: str, *texts: str) -> None:
    for text in texts:
        for line in _key_lines(key):
            assert line not in text


def _stored_secret() -> dict[str, Any]:
    value = boto3.client("secretsmanager").get_secret_value(SecretId=SECRET_ID)["SecretString"]
    stored: dict[str, Any] = json.loads(value)
    return stored


@pytest.fixture
def server(smtp_server: Callable[..., CaptureServer]) -> CaptureServer:
    return smtp_server()


# --- sending -------------------------------------------------------------------------------------


def test_a_plain_message_arrives_signed_and_verifies(server: CaptureServer) -> None:
    key = rsa_key()
    _service(server.port, key)

    answer = _send()

    assert answer.status == 200, answer.body
    data = server.only_message.data
    assert data.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;")
    assert _verifies(data, key)
    tags = _signature_tags(data)
    assert (tags["d"], tags["s"]) == ("example.com", "mail2026")
    signed = "".join(tags["h"].split()).split(":")
    assert signed == [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "from",
        "subject",
    ]


def test_one_click_unsubscribe_own_headers_and_an_inline_image_are_signed_and_verify(
    server: CaptureServer,
) -> None:
    """RFC 8058 section 3: both List-Unsubscribe fields must be covered by the signature, or a
    mailbox provider will not offer one-click unsubscribe; a caller's own `X-` field is left
    out (a relay may change it), and the multipart/related body verifies as sent."""
    key = rsa_key()
    _service(server.port, key)
    pixel = base64.b64encode(b"GIF89a" + bytes(64)).decode()

    answer = _send(
        {
            "to": "john@example.org",
            "subject": "News",
            "body_html": '<p>Hi</p><img src="cid:logo">',
            "headers": {"X-Campaign": "winter"},
            "list_unsubscribe": ["https://example.com/u/1", "mailto:unsub@example.com"],
            "attachments": [
                {"name": "logo.gif", "content": pixel, "content_id": "logo"},
            ],
        }
    )

    assert answer.status == 200, answer.body
    data = server.only_message.data
    assert _verifies(data, key)
    signed = "".join(_signature_tags(data)["h"].split()).split(":")
    assert {"list-unsubscribe", "list-unsubscribe-post"} <= set(signed)
    assert "x-campaign" not in signed


def test_attachments_and_non_ascii_headers_are_signed_and_verify(server: CaptureServer) -> None:
    key = rsa_key(pkcs8=True)
    _service(server.port, key, from_name="Boutique Zoë")
    body = {
        "to": [{"name": "Jürgen Groß", "email": "jurgen@example.org"}],
        "cc": "anna@example.org",
        "reply_to_email": "help@example.com",
        "subject": "Ihre Bestellung Nr. 4711 ✓ für Zoë",
        "body_text": "Grüße,\n.eine Zeile mit Punkt\n",
        "body_html": "<p>Grüße</p>",
        "attachments": [
            {
                "name": "Rechnung März.pdf",
                "content": base64.b64encode(b"%PDF-1.4\n" + bytes(range(256)) * 40).decode(),
                "content_type": "application/pdf",
            },
            {
                "name": "notes.txt",
                "content": base64.b64encode(b"line one\r\n.line two\r\n").decode(),
                "content_type": "text/plain",
            },
        ],
    }

    answer = _send(body)

    assert answer.status == 200, answer.body
    data = server.only_message.data
    assert _verifies(data, key)
    signed = set("".join(_signature_tags(data)["h"].split()).split(":"))
    assert {"from", "to", "cc", "reply-to", "subject", "content-type"} <= signed
    # What a reader sees, changed on the way, no longer verifies.
    tampered = data.replace(b"Content-Type: application/pdf", b"Content-Type: application/x-pdf")
    assert tampered != data
    assert not _verifies(tampered, key)


def test_queued_messages_sent_in_a_pipelined_batch_all_verify(send_queue: SendQueue) -> None:
    key = rsa_key()
    with FaultServer(extensions=("PIPELINING",), reply_delay=0.05) as server:
        _service(server.port, key, max_connections=1)  # one connection: each announced
        for subject in ("one", "two", "three"):
            body = {"to": "john@example.org", "subject": subject, "body_text": subject}
            assert _send(body, query="async=true").status == 202

        run = send_queue.run_worker()
        runtime.reset()  # the kept connection closes before the server stops

    assert (len(run.received), run.failed) == (3, set())
    # Each next message was announced behind the previous dot: the bytes it announced, signed,
    # were the bytes it then sent (else it would have needed a session of its own).
    envelope = ["MAIL", "RCPT", "DATA"]
    assert server.only_session.flights == [
        ["EHLO"],
        envelope,
        [MESSAGE_DATA, *envelope],
        [MESSAGE_DATA, *envelope],
        [MESSAGE_DATA],
        ["QUIT"],
    ]
    assert len(server.delivered) == 3
    assert all(_verifies(arrival.data, key) for arrival in server.delivered)


def test_a_message_through_ses_is_signed_without_the_fields_ses_rewrites(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = rsa_key()
    with SesEndpoint() as ses:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", ses.url)
        create_service(
            {"region": "eu-west-1", "from_email": SENDER, "dkim": _dkim(key)}, type="ses"
        )

        answer = _send()

    assert answer.status == 200, answer.body
    [request] = ses.sent()
    data = base64.b64decode(request["Content"]["Raw"]["Data"])
    assert _verifies(data, key)
    signed = "".join(_signature_tags(data)["h"].split()).split(":")
    assert "date" not in signed
    assert "message-id" not in signed
    # SES puts its own Message-ID and Date in: the signature survives them.
    rewritten = data.replace(b"Message-ID: <", b"Message-ID: <0100018c-ses-")
    assert _verifies(rewritten, key)


def test_a_service_without_dkim_sends_unsigned(server: CaptureServer) -> None:
    create_service({"host": LOOPBACK, "port": server.port, "encryption": "none"})

    assert _send({"to": "john@example.org", "from_email": SENDER, "body_text": "Hi"}).status == 200

    assert b"DKIM-Signature" not in server.only_message.data


# --- the key: kept, never shown, checked ---------------------------------------------------------


def test_the_key_is_kept_in_the_secret_and_never_shown_nor_logged(
    server: CaptureServer, function_logs: Callable[[], str]
) -> None:
    key = rsa_key()
    created = _service(server.port, key, username="shop", password=PASSWORD)
    shown = call_api("GET", "/api/v2/system/service/email").body
    listed = call_api("GET", "/api/v2/system/service").body
    tested = call_api("POST", "/api/v2/system/service/email/test").body
    sent = _send().body

    assert shown == created
    assert shown["config"]["dkim"] == {"domain": "example.com", "selector": "mail2026"}
    assert _stored_secret() == {"password": PASSWORD, "dkim": {"private_key": key}}
    _assert_no_key(
        key,
        json.dumps(created),
        json.dumps(shown),
        json.dumps(listed),
        json.dumps(tested),
        json.dumps(sent),
        function_logs(),
    )


@pytest.mark.parametrize(
    ("dkim_settings", "reason", "field"),
    [
        (_dkim(ed25519_key()), "invalid_dkim_key", "config.dkim.private_key"),
        (_dkim("-----BEGIN RSA PRIVATE KEY-----\nnope\n"), "invalid_dkim_key", None),
        (_dkim(rsa_key(), selector="bad selector"), "invalid_dkim_settings", None),
        (_dkim(rsa_key(), domain="localhost"), "invalid_dkim_settings", None),
        ({"domain": "example.com", "selector": "s1"}, None, None),
    ],
    ids=["ed25519", "unreadable", "selector", "domain", "no-key"],
)
def test_a_bad_dkim_setting_is_a_400_and_nothing_is_stored(
    server: CaptureServer,
    function_logs: Callable[[], str],
    dkim_settings: dict[str, str],
    reason: str | None,
    field: str | None,
) -> None:
    answer = call_api(
        "POST",
        "/api/v2/system/service",
        {
            "name": "email",
            "config": {"host": LOOPBACK, "port": server.port, "dkim": dkim_settings},
        },
    )

    assert answer.status == 400, answer.body
    if reason is not None:
        assert answer.body["error"]["reason"] == reason
    if field is not None:
        assert answer.body["error"]["context"]["field"] == field
    assert call_api("GET", "/api/v2/system/service/email").status == 404
    secrets = boto3.client("secretsmanager").list_secrets()["SecretList"]
    assert [secret["Name"] for secret in secrets if "/services/" in secret["Name"]] == []
    _assert_no_key(dkim_settings.get("private_key", ""), json.dumps(answer.body), function_logs())


# --- PATCH ---------------------------------------------------------------------------------------


def test_a_patch_changes_the_selector_and_keeps_the_key(server: CaptureServer) -> None:
    key = rsa_key()
    _service(server.port, key)

    patched = call_api(
        "PATCH", "/api/v2/system/service/email", {"config": {"dkim": {"selector": "mail2027"}}}
    )
    _send()

    assert patched.status == 200, patched.body
    assert patched.body["config"]["dkim"] == {"domain": "example.com", "selector": "mail2027"}
    assert _verifies(server.only_message.data, key, selector="mail2027")


def test_a_patch_replaces_the_key(server: CaptureServer) -> None:
    _service(server.port, rsa_key())
    _send()  # the old key signs, and its transport is kept warm
    new_key = rsa_key(pkcs8=True)

    patched = call_api(
        "PATCH", "/api/v2/system/service/email", {"config": {"dkim": {"private_key": new_key}}}
    )
    _send()

    assert patched.status == 200, patched.body
    assert _stored_secret() == {"dkim": {"private_key": new_key}}
    assert _verifies(server.messages[-1].data, new_key)


def test_a_patch_removes_dkim_and_the_key(server: CaptureServer) -> None:
    _service(server.port, rsa_key(), username="shop", password=PASSWORD)

    patched = call_api("PATCH", "/api/v2/system/service/email", {"config": {"dkim": None}})

    assert patched.status == 200, patched.body
    assert "dkim" not in patched.body["config"]
    assert _stored_secret() == {"password": PASSWORD}


def test_a_dkim_key_alone_does_not_make_a_host_change_ask_for_a_password(
    server: CaptureServer,
) -> None:
    _service(server.port, rsa_key())

    patched = call_api("PATCH", "/api/v2/system/service/email", {"config": {"host": "localhost"}})

    assert patched.status == 200, patched.body


def test_a_patch_with_a_bad_key_is_a_400_and_changes_nothing(server: CaptureServer) -> None:
    key = rsa_key()
    _service(server.port, key)

    patched = call_api(
        "PATCH",
        "/api/v2/system/service/email",
        {"config": {"dkim": {"private_key": ed25519_key()}}},
    )

    assert patched.status == 400, patched.body
    assert patched.body["error"]["reason"] == "invalid_dkim_key"
    assert _stored_secret() == {"dkim": {"private_key": key}}


# --- the connection test -------------------------------------------------------------------------


def test_the_connection_test_gives_the_dns_record_to_publish(server: CaptureServer) -> None:
    key = rsa_key()
    _service(server.port, key)

    report = call_api("POST", "/api/v2/system/service/email/test")

    assert report.status == 200, report.body
    assert report.body["ok"] is True
    assert report.body["dkim"] == {
        "domain": "example.com",
        "selector": "mail2026",
        "record_name": "mail2026._domainkey.example.com",
        "record_type": "TXT",
        "record_value": parse_key(key).dns_record_value(),
        "key_bits": 2048,
        "unsigned_fields": [],
        "sender_aligned": True,
    }
    assert server.messages == []


def test_the_connection_test_of_a_service_without_dkim_has_none(server: CaptureServer) -> None:
    create_service({"host": LOOPBACK, "port": server.port, "encryption": "none"})

    report = call_api("POST", "/api/v2/system/service/email/test")

    assert report.body["dkim"] is None


def test_a_key_gone_from_the_secret_fails_the_send_and_nothing_goes_unsigned(
    server: CaptureServer,
) -> None:
    _service(server.port, rsa_key())
    # Edited by hand in Secrets Manager: the key is gone, the service still signs.
    boto3.client("secretsmanager").put_secret_value(SecretId=SECRET_ID, SecretString="{}")
    runtime.reset()  # a fresh container: nothing cached

    answer = _send()

    assert answer.status == 500, answer.body
    assert answer.body["error"]["reason"] == "dkim_signing_failed"
    assert answer.body["error"]["message"] == (
        "Service 'email' signs with DKIM, but has no key stored."
    )
    assert server.messages == []
