"""Properties of the MIME builder, for arbitrary Unicode: whatever the names, subject and
filenames, the message reads back to the same values and holds no header or mailbox the
input did not ask for. Read back as a receiver would, with the stdlib's parsers; this test
does not use the builder's own outbound check to decide."""

from __future__ import annotations

import email
import email.policy
import re
import unicodedata
from collections import Counter
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.headerregistry import AddressHeader
from email.message import EmailMessage
from email.utils import getaddresses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.addresses import _LINE_BREAKS, Mailbox
from core.attachments.model import safe_filename
from core.composition.mime import POLICY, build_message
from core.message import Attachment, Message
from core.outbound import check_outbound
from tests.support.properties import examples

# What request validation lets through to the builder: in a header field, any text but
# line breaks and control characters (TAB aside); no lone surrogates anywhere.
_REFUSED = {*_LINE_BREAKS, *(chr(code) for code in (*range(0x20), *range(0x7F, 0xA0)))} - {"\t"}
text = st.text(
    st.characters(exclude_categories=["Cs"]).filter(lambda ch: ch not in _REFUSED),
    max_size=200,
)
# Strings built to look like encoded words, carrying line breaks and header syntax.
payload = st.text(st.sampled_from(list('aZ09 :<>@,;"\\=?_.\r\n\t')), max_size=60)
encoded_word_lookalike = st.builds(
    lambda charset, encoding, body: f"=?{charset}?{encoding}?{body}?=",
    st.sampled_from(["utf-8", "UTF-8", "iso-8859-1", "us-ascii"]),
    st.sampled_from(["q", "Q", "b", "B"]),
    payload.map(lambda value: "".join(f"={byte:02X}" for byte in value.encode())) | payload,
)
# The raw (undecoded) text of a lookalike may hold CR/LF: validation refuses those, so they
# reach the builder only encoded.
encoded_word_lookalike = encoded_word_lookalike.filter(lambda value: not set(value) & _REFUSED)
header_text = st.one_of(
    text,
    encoded_word_lookalike,
    st.lists(st.one_of(text, encoded_word_lookalike), max_size=4).map(" ".join),
)
addresses = st.sampled_from(
    ["john@example.com", "a.b+tag@sub.example.org", "x@xn--bcher-kva.example", "o'neil@example.co"]
)
mailboxes = st.builds(Mailbox, email=addresses, name=header_text.map(str.strip))
filenames = st.one_of(text, encoded_word_lookalike).filter(bool)


@st.composite
def messages(draw: st.DrawFn) -> Message:
    names = draw(st.lists(filenames, max_size=3))
    return Message(
        sender=Mailbox("noreply@example.com", draw(header_text)),
        to=draw(st.lists(mailboxes, min_size=1, max_size=4)),
        cc=draw(st.lists(mailboxes, max_size=3)),
        reply_to=draw(st.none() | mailboxes),
        subject=draw(header_text),
        body_text=draw(text),
        body_html=draw(st.none() | text),
        # Names as a request's validation leaves them (the builder only ever sees those).
        attachments=[
            Attachment(name=safe_filename(name), content=b"", content_type="text/plain")
            for name in names
        ],
        bcc=draw(st.lists(mailboxes, max_size=2)),
        message_id="<fixed@example.com>",
        date=datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC),
    )


def _names_and_addresses(raw: bytes, field: str) -> list[tuple[str, str]]:
    legacy = email.message_from_bytes(raw, policy=email.policy.compat32)
    return [
        (str(make_header(decode_header(name))), address)
        for name, address in getaddresses([str(legacy[field])])
    ]


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_the_message_reads_back_as_given(draft: Message) -> None:
    raw = build_message(draft).as_bytes(policy=POLICY)

    # On the wire: 7-bit, CRLF only, no line over 998.
    assert raw.isascii()
    assert not re.search(rb"\r(?!\n)|(?<!\r)\n", raw)
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)

    expected = {"from": [draft.sender], "to": draft.to}
    if draft.cc:
        expected["cc"] = draft.cc
    if draft.reply_to:
        expected["reply-to"] = [draft.reply_to]
    headers = Counter(name.lower() for name in message)
    headers.pop("content-transfer-encoding", None)
    assert headers == Counter(
        [*expected, "subject", "date", "message-id", "mime-version", "content-type"]
    )
    for field, wanted in expected.items():
        header = message[field]
        assert isinstance(header, AddressHeader)
        assert [address.addr_spec for address in header.addresses] == [m.email for m in wanted]
        assert _names_and_addresses(raw, field) == [(m.name, m.email) for m in wanted]
    assert str(message["subject"]) == draft.subject
    assert [part.get_filename() for part in message.iter_attachments()] == [
        attachment.name for attachment in draft.attachments
    ]
    assert str(message["message-id"]) == draft.message_id
    shown = {m.email for m in (draft.sender, *draft.to, *draft.cc, *expected.get("reply-to", []))}
    assert not any(m.email.encode() in raw for m in draft.bcc if m.email not in shown)
    check_outbound(raw, draft)  # and the builder's own last look agrees


@given(filenames)
def test_a_safe_filename_has_no_path_control_or_bidi_character(name: str) -> None:
    safe = safe_filename(name)

    assert safe
    assert len(safe) <= 255
    assert not set(safe) & set('/\\:*?"<>|')
    assert safe not in (".", "..")
    assert all(unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp", "Co", "Cn") for ch in safe)
