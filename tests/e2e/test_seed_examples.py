"""The seed page's send examples from `events/`, over HTTP, checked in the mail the server got."""

from __future__ import annotations

import base64
import json
import shlex
from email.message import MIMEPart

from local_stack.bootstrap import DEFAULT_FROM_EMAIL, DEFAULT_FROM_NAME
from tests.support.api import ApiResponse
from tests.support.events import load_event, send_body
from tests.support.stack_process import RunningStack


def _text(part: MIMEPart | None) -> str:
    """A text part's content; the .eml keeps SMTP's CRLF line ends, as received."""
    assert part is not None
    content: str = part.get_content()
    return content.replace("\r\n", "\n").rstrip("\n")


def _sent(stack: RunningStack, name: str) -> ApiResponse:
    answer = stack.send_event(load_event(name))
    assert answer.status == 200, answer.body
    return answer


def test_basic_email(stack: RunningStack) -> None:
    answer = _sent(stack, "send-basic.json")

    message, envelope = stack.captured(answer.body["message_id"])
    assert answer.body["count"] == 1
    assert message["From"] == f"{DEFAULT_FROM_NAME} <{DEFAULT_FROM_EMAIL}>"
    assert message["To"] == "John Doe <john.doe@example.com>"
    assert message["Subject"] == "Test Email"
    assert "Reply-To" not in message
    assert message.get_content_type() == "text/plain"
    assert _text(message) == "This is a test email sent via DreamFactory."
    assert envelope.mail_from == DEFAULT_FROM_EMAIL
    assert envelope.rcpt_tos == ["john.doe@example.com"]


def test_html_email_is_multipart_alternative(stack: RunningStack) -> None:
    body = send_body("send-html.json")
    answer = _sent(stack, "send-html.json")

    message, _ = stack.captured(answer.body["message_id"])
    assert message["Subject"] == "Your Order Confirmation"
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert _text(text) == body["body_text"]
    assert html.get_content_type() == "text/html"
    assert _text(html) == body["body_html"]


def test_multiple_recipients_keep_bcc_out_of_the_message(stack: RunningStack) -> None:
    answer = _sent(stack, "send-multiple-recipients.json")

    message, envelope = stack.captured(answer.body["message_id"])
    assert answer.body["count"] == 4
    assert message["To"] == "User One <user1@example.com>, User Two <user2@example.com>"
    assert message["Cc"] == "Manager <manager@example.com>"
    assert "Bcc" not in message
    assert b"archive@example.com" not in envelope.eml_path.read_bytes()
    assert envelope.rcpt_tos == [
        "user1@example.com",
        "user2@example.com",
        "manager@example.com",
        "archive@example.com",
    ]


def test_custom_sender_and_reply_to(stack: RunningStack) -> None:
    answer = _sent(stack, "send-custom-sender.json")

    message, envelope = stack.captured(answer.body["message_id"])
    assert message["From"] == "Support Team <support@example.com>"
    assert message["Reply-To"] == "helpdesk@example.com"
    assert message["To"] == "customer@example.com"
    assert message["Subject"] == "Re: Your Support Request"
    assert envelope.mail_from == "support@example.com"


def test_attachment_arrives_byte_for_byte(stack: RunningStack) -> None:
    (attachment_input,) = send_body("send-attachment.json")["attachments"]
    answer = _sent(stack, "send-attachment.json")

    message, _ = stack.captured(answer.body["message_id"])
    assert message.get_content_type() == "multipart/mixed"
    assert _text(message.get_body(("plain",))) == "Please find your invoice attached."
    (attachment,) = message.iter_attachments()
    assert attachment.get_filename() == "invoice-2026-001.pdf"
    assert attachment.get_content_type() == "application/pdf"
    content = attachment.get_content()
    assert content == base64.b64decode(attachment_input["content"])
    assert content.startswith(b"%PDF-")
    assert content.rstrip().endswith(b"%%EOF")


def test_template_placeholders_are_substituted(stack: RunningStack) -> None:
    answer = _sent(stack, "send-template.json")

    message, _ = stack.captured(answer.body["message_id"])
    assert message["Subject"] == "Welcome, John!"
    assert _text(message.get_body(("plain",))) == (
        "Welcome to Acme Corp\n\nHello John,\n\nYour account is ready."
    )
    assert _text(message.get_body(("html",))) == (
        "<h1>Welcome to Acme Corp</h1><p>Hello John,</p><p>Your account is ready.</p>"
    )


def test_printed_curl_sends_the_basic_example(stack: RunningStack) -> None:
    """The banner's curl, as a user would paste it: its URL, headers and body work as printed."""
    lines = stack.log().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("curl "))
    end = next(i for i in range(start, len(lines)) if lines[i].endswith("}'"))
    argv = shlex.split("\n".join(lines[start : end + 1]).replace("\\\n", " "))
    headers = dict(argv[i + 1].split(": ", 1) for i, arg in enumerate(argv) if arg == "-H")
    body = argv[argv.index("-d") + 1]
    url = argv[argv.index("-X") + 2]

    assert url == f"{stack.api_url}/api/v2/email"
    assert headers["X-DreamFactory-API-Key"] == stack.admin_key
    answer = stack.request("POST", "/api/v2/email", body=body, headers=headers)
    assert answer.status == 200, answer.body
    message, _ = stack.captured(answer.body["message_id"])
    assert message["Subject"] == json.loads(body)["subject"]
