"""Header forgery: no request field, however encoded, adds a header or a mailbox.

Every case goes through the real API to a real SMTP server on loopback and reads what
arrived: the header fields, each address list, the envelope. The inputs are the ones the
attack found (RFC 2047 encoded words carrying CR/LF, a second From, an early end of the
header block, `\\r.\\r\\n` with SMTP commands), in every field that reaches a header (the
caller's own `headers` included), and long display names that Python's folder turned into
other mailboxes.
"""

from __future__ import annotations

import base64
import email
import email.policy
from collections import Counter
from collections.abc import Callable
from email.header import decode_header, make_header
from email.headerregistry import AddressHeader
from email.utils import getaddresses
from typing import Any

import pytest

from core.composition import mime
from core.message import Message
from tests.support.api import call_api
from tests.support.smtp_servers import CaptureServer, Received

pytestmark = pytest.mark.usefixtures("aws")

SENDER = "noreply@example.com"


def _q(text: str) -> str:
    return "=?utf-8?q?" + "".join(f"={byte:02X}" for byte in text.encode()) + "?="


def _b(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


# What an attacker wants the decoded text to do to the header block.
PAYLOADS = {
    "bcc": "Hi\r\nBcc: x@evil.example",
    "second-from": "Hi\r\nFrom: ceo@bank.example",
    "end-of-headers": "Hi\r\n\r\n<html>attacker's body</html>",
    "smuggling": "Hi\r\n.\r\nMAIL FROM:<x@evil.example>\r\nRCPT TO:<y@evil.example>\r\nDATA",
    "bare-lf": "Hi\nBcc: x@evil.example",
}
ENCODINGS = {"q": _q, "b": _b}
CASES = [
    pytest.param(encode(payload), id=f"{name}-{how}")
    for name, payload in PAYLOADS.items()
    for how, encode in ENCODINGS.items()
] + [
    # Encoded words next to plain text, and one split across two words.
    pytest.param("Invoice " + _q("\r\nBcc: x@evil.example") + " due", id="embedded"),
    pytest.param(_b("Hi\r\nBcc: x@") + " " + _b("evil.example"), id="split-words"),
]


def _send(**fields: Any) -> None:
    body = {"to": "john@example.com", "subject": "Hi", "body_text": "Hello", **fields}
    response = call_api("POST", "/api/v2/email", body)
    assert response.status == 200, response.body


def _headers(received: Received) -> Counter[str]:
    return Counter(name.lower() for name in received.parsed())


def _addresses(received: Received, field: str) -> list[tuple[str, str]]:
    """(display name, address) pairs as a mail client reads them (RFC 2047: white space
    between adjacent encoded words is dropped, which Python's modern parser does not do);
    the modern parser must agree on the addresses."""
    header = received.parsed()[field]
    assert isinstance(header, AddressHeader)
    raw = email.message_from_bytes(received.data, policy=email.policy.compat32)[field]
    pairs = [
        (str(make_header(decode_header(name))), address)
        for name, address in getaddresses([str(raw)])
    ]
    assert [address.addr_spec for address in header.addresses] == [a for _, a in pairs]
    return pairs


def _assert_only_our_headers(
    received: Received, *optional: str, recipients: tuple[str, ...] = ("john@example.com",)
) -> None:
    headers = _headers(received)
    assert headers == Counter(
        [
            "from",
            "to",
            "subject",
            "date",
            "message-id",
            "mime-version",
            "content-type",
            "content-transfer-encoding",
            *list(optional),
        ]
    ), headers
    assert b"evil.example" not in received.data.partition(b"\r\n\r\n")[2]
    assert received.rcpt_tos == list(recipients)


@pytest.mark.parametrize("subject", CASES)
def test_encoded_words_in_the_subject_are_shown_as_written(
    server: CaptureServer, subject: str
) -> None:
    _send(subject=subject)

    received = server.only_message
    _assert_only_our_headers(received)
    assert str(received.parsed()["Subject"]) == subject


@pytest.mark.parametrize("subject", CASES)
def test_encoded_words_in_a_placeholder_value_are_shown_as_written(
    server: CaptureServer, subject: str
) -> None:
    _send(subject="Re: {topic}", template_data={"topic": subject})

    received = server.only_message
    _assert_only_our_headers(received)
    assert str(received.parsed()["Subject"]) == f"Re: {subject}"


@pytest.mark.parametrize("value", CASES)
@pytest.mark.parametrize("through", ["given", "placeholder"])
def test_encoded_words_in_a_header_of_the_callers_own_are_shown_as_written(
    server: CaptureServer, value: str, through: str
) -> None:
    if through == "given":
        _send(headers={"X-Note": value})
    else:
        _send(headers={"X-Note": "{note}"}, template_data={"note": value})

    received = server.only_message
    _assert_only_our_headers(received, "x-note")
    assert str(received.parsed()["X-Note"]) == value


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize(
    ("fields", "header", "optional"),
    [
        pytest.param(lambda name: {"from_name": name}, "from", (), id="from_name"),
        pytest.param(
            lambda name: {"to": {"email": "john@example.com", "name": name}}, "to", (), id="to"
        ),
        pytest.param(
            lambda name: {"reply_to_email": SENDER, "reply_to_name": name},
            "reply-to",
            ("reply-to",),
            id="reply_to_name",
        ),
    ],
)
def test_encoded_words_in_a_display_name_are_shown_as_written(
    server: CaptureServer,
    name: str,
    fields: Callable[[str], dict[str, Any]],
    header: str,
    optional: tuple[str, ...],
) -> None:
    _send(**fields(name))

    received = server.only_message
    _assert_only_our_headers(received, *optional)
    ((display_name, address),) = _addresses(received, header)
    assert display_name == name
    assert address in (SENDER, "john@example.com")


def test_a_cc_name_cannot_add_a_bcc(server: CaptureServer) -> None:
    name = _q("Jane\r\nBcc: x@evil.example")
    _send(cc={"email": "jane@example.com", "name": name})

    received = server.only_message
    assert _addresses(received, "cc") == [(name, "jane@example.com")]
    assert "bcc" not in _headers(received)
    assert received.rcpt_tos == ["john@example.com", "jane@example.com"]


# Long display names holding what, folded badly, reads as other mailboxes.
FOLDING_NAMES = [
    "x" * 60 + " <evil@evil.example>, " + '"q" y',
    "Support Team <support@bank.example>, admin@evil.example, " + "a" * 40,
    '"' * 30 + "<evil@evil.example>" + '"' * 30,
    "a, b, c, d, e, f <f@evil.example>, g@evil.example, " * 3,
    "Ünïcödé " * 12 + "<evil@evil.example>",
    " " * 80 + "x",
    "\\" * 70 + '"',
    "=?utf-8?q?x?= " * 10,
]


@pytest.mark.parametrize("name", FOLDING_NAMES)
def test_a_long_display_name_stays_one_mailbox(server: CaptureServer, name: str) -> None:
    _send(from_name=name, to=[{"email": "john@example.com", "name": name}, "ann@example.com"])

    received = server.only_message
    _assert_only_our_headers(received, recipients=("john@example.com", "ann@example.com"))
    assert _addresses(received, "from") == [(name, SENDER)]  # recipient names are stripped
    assert _addresses(received, "to") == [
        (name.strip(), "john@example.com"),
        ("", "ann@example.com"),
    ]
    assert all(len(line) <= 78 for line in received.data.partition(b"\r\n\r\n")[0].split(b"\r\n"))


def test_a_message_that_fails_its_final_check_is_never_sent(
    server: CaptureServer,
    monkeypatch: pytest.MonkeyPatch,
    function_logs: Callable[[], str],
) -> None:
    """The outbound check does not trust the builder: a builder that lets a header through
    (simulated here) gets a 500 and a loud log line, and nothing reaches the server."""
    build = mime.build_message

    def leaky(draft: Message) -> Any:
        message = build(draft)
        message.set_raw("Bcc", "x@evil.example")
        return message

    monkeypatch.setattr("core.outbound.build_message", leaky)
    response = call_api(
        "POST", "/api/v2/email", {"to": "john@example.com", "subject": "Hi", "body_text": "x"}
    )

    assert (response.status, response.reason) == (500, "unsafe_message")
    assert server.sessions == 0
    assert "built message failed its outbound check" in function_logs()
