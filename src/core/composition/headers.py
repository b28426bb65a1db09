"""Header fields written by hand, so that what the caller gave is shown as literal text.

The stdlib's header registry parses every value it is given: an RFC 2047 encoded word in a
subject or display name is *decoded* on the way in, and its CR/LF then reach the wire; and its
folder (3.11 to 3.13) can turn a long display name holding `<addr>`, commas or quotes into
other mailboxes. So the values we write come from here instead, and the message keeps them
as raw text (`EmailMessage.set_raw` under a policy that never refolds):

- Text that is printable ASCII, holds no `=?` and fits the line is written as it is (in a
  quoted string, for a display name).
- Anything else is written as a run of `=?utf-8?b?...?=` encoded words, one per folded line.
  Base64 words decode to exactly the caller's characters, so a string that *looks like* an
  encoded word is displayed as written, and nothing inside a word can end a header, a
  quoted string or a mailbox.

A field of the caller's own (`headers`, List-Unsubscribe) that is plain ASCII stays as written,
folded at its spaces only, so a machine-read value (`References`, a URI list) keeps its
meaning; any other value is encoded words as above.

Every value is ASCII, no line is longer than 78 characters (an addr-spec aside, at most
254), and folding only ever happens between whole tokens.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from urllib.parse import quote

# RFC 2047: an encoded word is at most 75 characters; `=?utf-8?b?` and `?=` take 12 of them,
# leaving 63 for base64, i.e. 15 quads, i.e. 45 bytes of UTF-8 per word.
_WORD_BYTES = 45
# RFC 5322's recommended line length, the "Name: " prefix included.
_LINE = 78
FOLD = "\r\n "


def unstructured(name: str, text: str) -> str:
    """The value of an unstructured field (Subject): literal when plain, else encoded words."""
    if _plain(text) and len(name) + 2 + len(text) <= _LINE and text == text.strip():
        return text
    return FOLD.join(encoded_words(text)) if text else ""


def unstructured_or_plain(name: str, text: str) -> str:
    """The value of a field of the caller's own (`headers`): plain printable ASCII stays as
    written (folded at its spaces, so machine-read values such as `References` keep their
    meaning), anything else is encoded words as for `unstructured`."""
    longest_word = max(len(word) for word in text.split(" "))
    if _plain(text) and text == text.strip() and text and len(name) + 2 + longest_word <= 998:
        return folded_at_spaces(name, text)
    return unstructured(name, text)


def folded_at_spaces(name: str, text: str) -> str:
    """`text` with a line break before some of its single spaces, so lines stay within 78
    where a run without spaces allows: unfolding (dropping each CRLF) gives `text` back."""
    words = text.split(" ")
    lines = [words[0]]
    width = len(name) + 2 + len(words[0])
    for word in words[1:]:
        # Never break before an empty word (a run of spaces) nor leave a blank line.
        if word and lines[-1].strip() and width + 1 + len(word) > _LINE:
            lines.append(" " + word)
            width = 1 + len(word)
        else:
            lines[-1] += " " + word
            width += 1 + len(word)
    return "\r\n".join(lines)


def mailbox(display_name: str, addr_spec: str) -> str:
    """One mailbox: `addr`, `"Name" <addr>` or `=?utf-8?b?...?= <addr>`.

    `addr_spec` must already be a validated ASCII address (email-validator's `ascii_email`).
    """
    if not display_name:
        return addr_spec
    if _plain(display_name) and len(display_name) <= 60 and not set(display_name) & {'"', "\\"}:
        return f'"{display_name}" <{addr_spec}>'
    return FOLD.join([*encoded_words(display_name), f"<{addr_spec}>"])


def address_list(mailboxes: Iterable[tuple[str, str]]) -> str:
    """`mailbox, mailbox, ...`, each mailbox starting a line of its own after the first."""
    return ("," + FOLD).join(mailbox(name, address) for name, address in mailboxes)


def encoded_words(text: str) -> Iterator[str]:
    """`text` as base64 encoded words of at most 75 characters, never splitting a character."""
    chunk = bytearray()
    for character in text:
        encoded = character.encode("utf-8")
        if len(chunk) + len(encoded) > _WORD_BYTES:
            yield _word(bytes(chunk))
            chunk.clear()
        chunk += encoded
    if chunk:
        yield _word(bytes(chunk))


def _word(data: bytes) -> str:
    return f"=?utf-8?b?{base64.b64encode(data).decode('ascii')}?="


def _plain(text: str) -> bool:
    """Printable ASCII that no reader could take for an encoded word."""
    return text.isascii() and text.isprintable() and "=?" not in text


def attachment_disposition(filename: str, disposition: str = "attachment") -> str:
    """`Content-Disposition` for an attachment (or an `inline` part): a quoted name when
    plain, else RFC 2231 (`filename*=utf-8''...`, split into numbered sections when long),
    which mail clients percent-decode and never read as an encoded word."""
    if _plain(filename) and len(filename) <= 60 and not set(filename) & {'"', "\\"}:
        return f'{disposition}; filename="{filename}"'
    sections = list(_percent_encoded_sections(filename))
    if len(sections) == 1:
        return f"{disposition};{FOLD}filename*=utf-8''{sections[0]}"
    charset = "utf-8''"  # only the first section names the charset
    parameters = [
        f"filename*{index}*={charset if index == 0 else ''}{section}"
        for index, section in enumerate(sections)
    ]
    return f"{disposition};" + FOLD + (";" + FOLD).join(parameters)


# Percent-encoded characters per RFC 2231 section, so each folded line stays under 78.
_SECTION = 60


def _percent_encoded_sections(text: str) -> Iterator[str]:
    """`text` percent-encoded as UTF-8, in sections of at most 60 that never split a character."""
    section = ""
    for character in text:
        encoded = quote(character, safe="")
        if len(section) + len(encoded) > _SECTION:
            yield section
            section = ""
        section += encoded
    if section:
        yield section
