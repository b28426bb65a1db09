"""The caller's own header fields and inline parts in the MIME builder: for arbitrary values,
each field reads back as given (plain ASCII folded at its spaces only, anything else as
encoded words) and adds no field of its own; inline parts sit in a `multipart/related` around
the bodies, with their Content-IDs. Read back with the stdlib's parsers, as a receiver would;
the builder's own outbound check must agree."""

from __future__ import annotations

import email
import email.policy
import re
from collections import Counter
from datetime import UTC, datetime
from email.message import EmailMessage, MIMEPart
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.addresses import Mailbox
from core.composition import headers
from core.composition.custom_headers import MAX_VALUE_LENGTH
from core.composition.inline_parts import referenced_content_ids
from core.composition.mime import POLICY, build_message
from core.message import Attachment, Message
from core.outbound import check_outbound
from tests.support.properties import examples
from tests.unit.test_mime_properties import header_text

NAMES = ["X-Campaign", "In-Reply-To", "References", "Keywords", "X-Entity-Ref-ID", "Comments"]
values = (
    header_text
    | st.lists(st.text("ab<>@.-", min_size=1, max_size=30), max_size=40).map(" ".join)
    | st.text(" a", max_size=200)
).filter(lambda value: 0 < len(value) <= MAX_VALUE_LENGTH)


def _message(**fields: Any) -> Message:
    defaults: dict[str, Any] = {
        "sender": Mailbox("noreply@example.com", ""),
        "to": [Mailbox("john@example.com", "")],
        "subject": "Hi",
        "body_text": "Hello",
        "message_id": "<fixed@example.com>",
        "date": datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC),
    }
    return Message.model_validate({**defaults, **fields})


def _read(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _children(part: MIMEPart) -> list[MIMEPart]:
    return list(part.iter_parts())


def _tree(part: MIMEPart) -> Any:
    if part.is_multipart():
        return (part.get_content_type(), [_tree(child) for child in _children(part)])
    return part.get_content_type()


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(NAMES), values), max_size=4, unique_by=lambda f: f[0]))
def test_own_fields_read_back_as_given(fields: list[tuple[str, str]]) -> None:
    draft = _message(headers=fields)

    raw = build_message(draft).as_bytes(policy=POLICY)

    assert raw.isascii()
    assert not re.search(rb"\r(?!\n)|(?<!\r)\n", raw)
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    message = _read(raw)
    names = Counter(name.lower() for name in message)
    assert all(names[name.lower()] == 1 for name, _ in fields)
    assert sum(names.values()) == 8 + len(fields)  # the builder's 8, and these
    assert [(name, str(message[name])) for name, _ in fields] == fields
    check_outbound(raw, draft)


@given(st.text("ab ", max_size=300).map(str.strip).filter(bool))
def test_folding_at_spaces_unfolds_to_the_text(text: str) -> None:
    folded = headers.folded_at_spaces("X-Name", text)

    assert folded.replace("\r\n", "") == text
    assert all(line.strip() for line in folded.split("\r\n"))


def test_a_plain_value_stays_plain_and_a_long_one_folds_between_words() -> None:
    value = " ".join(f"<id{index}@example.com>" for index in range(8))

    written = headers.unstructured_or_plain("References", value)

    assert "=?" not in written
    assert all(len(line) <= 78 for line in ("References: " + written).split("\r\n"))
    assert written.replace("\r\n", "") == value


@pytest.mark.parametrize("value", ["Grüße", "=?utf-8?q?a?=", " padded", "tab\there"])
def test_a_value_that_is_not_plain_is_encoded_words(value: str) -> None:
    assert headers.unstructured_or_plain("X-Note", value).startswith("=?utf-8?b?")


LOGO = Attachment(name="logo.png", content=b"png", content_type="image/png", content_id="logo")
PDF = Attachment(name="a.pdf", content=b"pdf", content_type="application/pdf")


@pytest.mark.parametrize(
    ("bodies", "attachments", "tree"),
    [
        (
            {"body_html": "<img src='cid:logo'>"},
            [LOGO],
            ("multipart/related", ["text/html", "image/png"]),
        ),
        (
            {"body_html": "<img src='cid:logo'>"},
            [PDF, LOGO],
            (
                "multipart/mixed",
                [("multipart/related", ["text/html", "image/png"]), "application/pdf"],
            ),
        ),
        (
            {"body_html": "<img src='cid:logo'>", "body_text": "Hello"},
            [LOGO, PDF],
            (
                "multipart/mixed",
                [
                    (
                        "multipart/related",
                        [("multipart/alternative", ["text/plain", "text/html"]), "image/png"],
                    ),
                    "application/pdf",
                ],
            ),
        ),
        (
            {"body_html": "<p>no image</p>"},
            [PDF],
            ("multipart/mixed", ["text/html", "application/pdf"]),
        ),
    ],
    ids=["html+image", "html+image+file", "both+image+file", "no-inline"],
)
def test_the_tree(bodies: dict[str, str], attachments: list[Attachment], tree: Any) -> None:
    draft = _message(**{"body_text": None, **bodies}, attachments=attachments)

    raw = build_message(draft).as_bytes(policy=POLICY)

    message = _read(raw)
    assert _tree(message) == tree
    inline = [part for part in message.walk() if part.get_content_disposition() == "inline"]
    assert [(str(part["content-id"]), part.get_filename()) for part in inline] == [
        (f"<{a.content_id}>", a.name) for a in attachments if a.content_id
    ]
    # MIME-Version belongs to the message's header only, not to the parts made here.
    assert raw.count(b"MIME-Version") == 1 + len([a for a in attachments if not a.content_id])
    check_outbound(raw, draft)


def test_a_message_with_its_own_fields_and_inline_parts_survives_the_queue() -> None:
    draft = _message(
        body_html="<img src='cid:logo'>", attachments=[LOGO], headers=[("X-Campaign", "spring")]
    )

    assert Message.model_validate_json(draft.model_dump_json()) == draft


@pytest.mark.parametrize(
    ("html", "ids"),
    [
        ('<img src="cid:logo">', ["logo"]),
        ("<img src='CID:a%40b'> <img src=cid:c>", ["a@b", "c"]),
        ('<td style="background: url(cid:bg)">', ["bg"]),
        ('<img src="cid:logo"><img src="cid:logo">', ["logo"]),
        ("<p>write to cid:someone in prose</p>", []),
    ],
)
def test_the_cid_references_of_an_html_body(html: str, ids: list[str]) -> None:
    assert referenced_content_ids(html) == ids
