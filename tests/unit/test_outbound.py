"""The outbound check (`core.outbound`): the bytes about to leave, read back, must say exactly
what the message says. Each case takes a sealed message and changes its bytes as a bug in the
builder (or an input it failed to neutralise) would, and the check must refuse them."""

from __future__ import annotations

import base64
import os

import pytest

from core.errors import UnsafeMessage
from core.message import Attachment, Message
from core.outbound import MAX_LINE, check_outbound, seal

SENDER = {"email": "noreply@example.com", "name": "Mailer"}


def _message(**fields: object) -> Message:
    defaults: dict[str, object] = {
        "sender": SENDER,
        "to": [{"email": "john@example.com"}],
        "subject": "Hello",
        "body_text": "Hi John",
        "message_id": "<1@example.com>",
        "date": "2026-03-02T09:30:15+00:00",
        "attachments": [
            Attachment(name="report.pdf", content=b"%PDF", content_type="application/pdf")
        ],
    }
    return Message.model_validate({**defaults, **fields})


MESSAGE = _message()
RAW = seal(MESSAGE, max_bytes=10**6).raw
HEADERS, _, BODY = RAW.partition(b"\r\n\r\n")


def test_the_sealed_bytes_pass() -> None:
    check_outbound(RAW, MESSAGE)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(HEADERS + b"\r\nBcc: eve@example.net\r\n\r\n" + BODY, id="a-header-added"),
        pytest.param(RAW.replace(b"john@example.com", b"eve@example.net", 1), id="to-changed"),
        pytest.param(RAW.replace(b"Subject: Hello", b"Subject: Hell0"), id="subject-changed"),
        pytest.param(RAW.replace(b"report.pdf", b"invoice.exe"), id="attachment-renamed"),
        pytest.param(RAW.replace(b"Hi John", b"Hi\nJohn"), id="a-bare-lf"),
        pytest.param(RAW.replace(b"Hi John", b"Hi\rJohn"), id="a-bare-cr"),
        pytest.param(RAW.replace(b"Hi John", b"Hi\0John"), id="a-nul"),
        pytest.param(RAW.replace(b"Hi John", "Hi Jöhn".encode()), id="8-bit"),
        pytest.param(
            RAW.replace(b"Hi John", b"x" * (MAX_LINE + 1)), id="a-line-over-998-characters"
        ),
    ],
)
def test_bytes_that_differ_from_the_message_are_refused(raw: bytes) -> None:
    with pytest.raises(UnsafeMessage):
        check_outbound(raw, MESSAGE)


def test_a_line_of_998_characters_passes() -> None:
    check_outbound(RAW.replace(b"Hi John", b"x" * MAX_LINE), MESSAGE)


def test_a_boundary_smuggled_into_a_big_attachment_is_found() -> None:
    # The parser reads the message a piece at a time: a part that starts deep inside a big
    # body, across the pieces' edges, is still seen.
    big = _message(
        attachments=[Attachment(name="big.bin", content=os.urandom(300_000))],
    )
    raw = seal(big, max_bytes=10**7).raw
    boundary = raw.split(b'boundary="', 1)[1].split(b'"', 1)[0]
    encoded = base64.b64encode(b"x").decode().encode()
    extra = (
        b"--" + boundary + b"\r\nContent-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="extra.exe"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded + b"\r\n"
    )
    middle = len(raw) // 2
    cut = raw.index(b"\r\n", middle) + 2
    check_outbound(raw, big)

    with pytest.raises(UnsafeMessage):
        check_outbound(raw[:cut] + extra + raw[cut:], big)
