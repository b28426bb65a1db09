"""The last look at a message before it may leave: its bytes, read back, must say exactly
what the validated request said.

The builder is written so that no input can add a header, a mailbox or an SMTP line; this
check does not trust that. It reads the bytes as a receiver would, with two parsers (the
stdlib's modern one, and the legacy one most older tools share), and compares the header
set, every address list, the subject, the caller's own fields and the attachments (names,
inline or not, Content-IDs) with the message. Any difference is our bug: the send stops with
a 500 and a loud log line, and nothing goes out.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.feedparser import BytesFeedParser
from email.header import decode_header, make_header
from email.headerregistry import AddressHeader, BaseHeader
from email.message import EmailMessage
from email.message import Message as ParsedHeaders
from email.parser import BytesHeaderParser
from email.utils import getaddresses

from aws_lambda_powertools import Logger

from core.addresses import Mailbox
from core.composition.mime import POLICY, build_message
from core.errors import MessageTooLarge, UnsafeMessage
from core.message import Message

logger = Logger(child=True)

# RFC 5322: 998 characters a line, CRLF excluded.
MAX_LINE = 998
_BARE_LINE_BREAK = re.compile(rb"\r(?!\n)|(?<!\r)\n")
# A line longer than MAX_LINE, once bare line breaks are ruled out: searched, not split, so a
# big message is not copied line by line.
_LONG_LINE = re.compile(rb"[^\r\n]{%d}" % (MAX_LINE + 1))
# The parser is fed this much at a time: given a whole big message at once, it holds it as
# text and as lines besides the bytes (some eight copies at its peak; about three this way).
_PARSE_CHUNK = 64 * 1024
# Headers the builder writes besides the address fields and the subject.
_FIXED = ("date", "message-id", "mime-version", "content-type")


@dataclass(frozen=True)
class Sealed:
    """A message and the exact bytes that go on the wire for it, checked."""

    message: Message
    raw: bytes


def seal(message: Message, *, max_bytes: int) -> Sealed:
    """`message` built, within `max_bytes` (else 413), and read back to say exactly what it
    says (else `UnsafeMessage`)."""
    raw = build_message(message).as_bytes(policy=POLICY)
    if len(raw) > max_bytes:
        raise too_large(len(raw), max_bytes)
    check_outbound(raw, message)
    return Sealed(message, raw)


def too_large(size: int, limit: int, *, at_least: bool = False) -> MessageTooLarge:
    return MessageTooLarge(
        f"The message is {'at least ' if at_least else ''}{size} bytes; the limit is {limit}.",
        context={"size": size, "limit": limit},
    )


def check_outbound(raw: bytes, message: Message) -> None:
    """Raise `UnsafeMessage` (nothing may be sent) unless `raw` is exactly `message`."""
    problems = list(_line_problems(raw)) or list(_content_problems(raw, message))
    if problems:
        logger.error(
            "built message failed its outbound check: nothing sent",
            extra={"problems": problems, "message_id": message.message_id},
        )
        raise UnsafeMessage(
            "Internal error: the message built for this request did not pass its final"
            " check, so nothing was sent."
        )


def _line_problems(raw: bytes) -> Iterator[str]:
    """SMTP's view: 7-bit, no NUL, CRLF only (so dot-stuffing sees every line start)."""
    if not raw.isascii():
        yield "a byte outside 7-bit ASCII"
    if b"\0" in raw:
        yield "a NUL byte"
    if _BARE_LINE_BREAK.search(raw):
        yield "a bare CR or LF"
    if _LONG_LINE.search(raw):
        yield f"a line longer than {MAX_LINE} characters"


def _content_problems(raw: bytes, message: Message) -> Iterator[str]:
    parsed = _parsed(raw)
    # The legacy parser reads only the header section: what it is asked about is there.
    legacy = BytesHeaderParser(policy=policy.compat32).parsebytes(_header_section(raw))

    expected: dict[str, list[Mailbox]] = {"from": [message.sender]}
    if message.to:
        expected["to"] = message.to
    if message.cc:
        expected["cc"] = message.cc
    if message.reply_to is not None:
        expected["reply-to"] = [message.reply_to]

    names = Counter(name.lower() for name in parsed)
    names.pop("content-transfer-encoding", None)  # absent on multipart messages
    own = [name.lower() for name, _ in message.headers]
    wanted = Counter([*expected, "subject", *_FIXED, *own])
    if names != wanted:
        yield f"header fields {sorted(names.elements())}, expected {sorted(wanted.elements())}"
        return
    if parsed.defects:
        yield f"message defects {parsed.defects}"

    for name, mailboxes in expected.items():
        yield from _address_problems(name, parsed, legacy, mailboxes)
    if str(parsed["subject"]) != message.subject:
        yield "the subject reads back differently"
    for name, value in message.headers:
        if str(parsed[name]) != value:
            yield f"the {name} field reads back differently"

    # Inline parts come first in the tree (inside `related`), then the attachments proper.
    files = [
        (part.get_filename(), part.get_content_disposition(), part["content-id"])
        for part in parsed.walk()
        if part.get_content_disposition() is not None
    ]
    expected_files = [
        (attachment.name, "inline", f"<{attachment.content_id}>")
        for attachment in message.inline_parts()
    ] + [(attachment.name, "attachment", None) for attachment in message.attached_files()]
    if files != expected_files:
        yield f"attachments read back as {files!r}"
    for part in parsed.walk():
        if part.defects:
            yield f"defects in a {part.get_content_type()} part: {part.defects}"


def _parsed(raw: bytes) -> EmailMessage:
    """`raw` as the stdlib's modern parser reads it, fed a piece at a time."""
    parser = BytesFeedParser(policy=policy.default)
    view = memoryview(raw)
    for start in range(0, len(raw), _PARSE_CHUNK):
        parser.feed(bytes(view[start : start + _PARSE_CHUNK]))
    parsed = parser.close()
    assert isinstance(parsed, EmailMessage)  # what policy.default parses into
    return parsed


def _header_section(raw: bytes) -> bytes:
    """The header fields and the empty line after them (all of `raw` if it has none)."""
    end = raw.find(b"\r\n\r\n")
    return raw if end < 0 else raw[: end + 4]


def _address_problems(
    name: str, message: EmailMessage, legacy: ParsedHeaders, mailboxes: list[Mailbox]
) -> Iterator[str]:
    header = message[name]
    # The registry's address headers are both (typeshed knows them apart).
    assert isinstance(header, AddressHeader)
    assert isinstance(header, BaseHeader)
    addresses = [address.addr_spec for address in header.addresses]
    if addresses != [mailbox.email for mailbox in mailboxes] or header.defects:
        yield f"{name} reads back as {addresses!r}"
    # The legacy parser splits the list without decoding; its names are then decoded as RFC
    # 2047 says (the modern parser puts a space between adjacent encoded words of a name).
    pairs = getaddresses([str(legacy[name])])
    old = [(display_name(raw_name), address) for raw_name, address in pairs]
    if old != [(mailbox.name, mailbox.email) for mailbox in mailboxes]:
        yield f"{name} reads back as {old!r} to the legacy parser"


def display_name(raw: str) -> str:
    """A display name as an RFC 2047 reader shows it: encoded words decoded, and the white
    space between adjacent encoded words dropped."""
    return str(make_header(decode_header(raw)))
