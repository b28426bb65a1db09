"""Reading an SMTP reply within bounds: its lines, its size, and the time left.

smtplib's `getreply` keeps every line of a multi-line reply, however many, and gives each read
the socket's whole timeout: a server, or anyone on the path while the session is in clear text
(the greeting and the first EHLO are, even for 'tls'), could stream a greeting until the
function ran out of memory, or keep a reply going a line at a time past any deadline.
`BoundedReplies.getreply` replaces it for every reply the transport reads (greeting, EHLO,
STARTTLS, AUTH, MAIL, RCPT, DATA, the verdict, pipelined replies, the connection test):

- a line is at most `MAX_LINE` octets. RFC 5321 4.5.3.1.5 gives 512, CRLF included; we take
  four times that, since servers do write longer diagnostics on one line and the RFC asks
  for as few limits as possible (4.5.3.1), while smtplib allowed 8192;
- a reply is at most `MAX_LINES` lines and `MAX_REPLY` octets: the RFC sets no number, and the
  longest real replies (an EHLO with every extension, a rejection with its explanation) are a
  few dozen lines and a few KiB;
- every read from the socket waits no longer than what the deadline leaves, so a reply takes
  no longer than the stage has, however its lines trickle in.

Past a bound the reply is not read any further (`ReplyTooLarge`); past the deadline the read
fails as a timeout does. Either way the connection is closed: part of a reply is unread.
"""

from __future__ import annotations

import io
import re
import smtplib
from typing import TYPE_CHECKING

from core.transport.base import Deadline

if TYPE_CHECKING:
    from collections.abc import Buffer  # Python 3.12+; an annotation only

MAX_LINE = 2048
MAX_LINES = 256
MAX_REPLY = 64 * 1024


class ReplyTooLarge(smtplib.SMTPException):
    """The server's reply went past a bound: a line, or the whole reply, too long."""


class BoundedReplies(smtplib.SMTP):
    """smtplib's client, reading each reply within bounds and before `deadline`."""

    # Until the session sets its own, as smtplib's: each read waits the socket's timeout.
    deadline: Deadline | None = None
    # Replies waited for after a write (the greeting, after connecting, counts one): the
    # round trips the connection took; a pipelined group's replies are one.
    round_trips = 0
    _wrote = True

    def send(self, s: Buffer | str) -> None:
        self._wrote = True
        super().send(s)

    def getreply(self) -> tuple[int, bytes]:
        """The next reply, as smtplib's `getreply` gives it: its code (-1 when the first line
        has none) and its lines' text; or `ReplyTooLarge`, or `SMTPServerDisconnected` (a
        close, a failed read, the deadline passed: its cause says which)."""
        if self.sock is None:
            raise smtplib.SMTPServerDisconnected("please run connect() first")
        if self.file is None:
            self.file = self.sock.makefile("rb")
        file: io.BufferedReader = self.file
        if self._wrote:
            self.round_trips += 1
            self._wrote = False
        try:
            return self._reply(file)
        except (ReplyTooLarge, smtplib.SMTPServerDisconnected):
            self.close()
            raise
        except OSError as error:  # the socket's own: a reset, a timeout, the deadline
            self.close()
            raise smtplib.SMTPServerDisconnected(
                f"Connection unexpectedly closed: {error}"
            ) from error

    def _reply(self, file: io.BufferedReader) -> tuple[int, bytes]:
        lines: list[bytes] = []
        size = 0
        while True:
            line = self._line(file)
            size += len(line)
            if len(lines) == MAX_LINES or size > MAX_REPLY:
                raise ReplyTooLarge(f"a reply over {MAX_LINES} lines or {MAX_REPLY // 1024} KiB")
            lines.append(line[4:].strip(b" \t\r\n"))
            try:
                code = int(line[:3])
            except ValueError:
                return -1, b"\n".join(lines)  # no SMTP reply: read no further
            if line[3:4] != b"-":
                return code, b"\n".join(lines)

    def _line(self, file: io.BufferedReader) -> bytes:
        """One line, CRLF included, each read from the socket within the time left."""
        line = b""
        while True:
            self._wait_no_longer_than_the_deadline()
            waiting = file.peek(1)  # what is buffered, or one read from the socket
            if not waiting:
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            window = waiting[: MAX_LINE - len(line)]
            end = window.find(b"\n")
            line += file.read(len(window) if end < 0 else end + 1)
            if end >= 0:
                return line
            if len(line) >= MAX_LINE:
                raise ReplyTooLarge(f"a reply line over {MAX_LINE} octets")

    def _wait_no_longer_than_the_deadline(self) -> None:
        if self.deadline is None or self.sock is None:
            return
        remaining = self.deadline.remaining()
        if remaining <= 0:
            raise TimeoutError("the deadline passed while the server was still replying")
        self.sock.settimeout(remaining)


def is_reply_code(code: int) -> bool:
    """Whether smtplib read an SMTP reply code: three digits, 2 to 5 first. smtplib gives -1
    for a line not starting with a number; a code outside 200-599 is no SMTP reply either."""
    return 200 <= code <= 599


def reply_text(code: int, text: bytes | str) -> str:
    """A reply as people read it: its code, then its text."""
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {decoded}".strip()


# The id a server gives the message it took, in its final reply, by the servers' own shapes
# (the first that fits wins; anything else names none):
_QUEUE_IDS = (
    # Postfix, Sendmail, Exim and kin: "250 2.0.0 Ok: queued as 4ZxYz1AbcDz".
    re.compile(r"^250 .*\bqueued as ([A-Za-z0-9._-]+)"),
    # Amazon SES's SMTP endpoint: "250 Ok 0100018c5a7e...-000000".
    re.compile(r"^250 Ok ([0-9a-f]{16}-[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}-[0-9a-f]{6})$"),
    # Microsoft Exchange: "250 2.0.0 OK <id@host> [Hostname=...]": the angle-bracket id.
    re.compile(r"^250 2\.0\.0 OK <([^<>\s]+@[^<>\s]+)>"),
    # Gmail: "250 2.0.0 OK  1701234567 a1-20020a...si123.45 - gsmtp": the token after the
    # timestamp.
    re.compile(r"^(?=.*gsmtp$)250 2\.0\.0 OK\s+\d{9,11} (\S+?)(?: - gsmtp)?$"),
)


def provider_message_id(reply: str) -> str | None:
    """The id the server gave the message in its final reply (as `reply_text` gives it: the
    code, then the text), when it names one in a shape we know; None otherwise."""
    first = reply.split("\n", 1)[0].strip()
    for shape in _QUEUE_IDS:
        found = shape.search(first)
        if found:
            return found.group(1)
    return None
