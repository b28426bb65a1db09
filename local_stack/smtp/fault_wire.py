"""One fault-server connection's raw socket: line-oriented reads and writes, and the tricks a
fault needs (read no further, wait until the client's bytes wait unread in the kernel, close
with an RST, stream a reply that goes on), each giving up when the server stops (`Hangup`).
"""

from __future__ import annotations

import fcntl
import select
import socket
import struct
import termios
import threading
from typing import Protocol

from local_stack.smtp.fault_script import Stream


class Transcript(Protocol):
    """Where a wire notes what it sent (a `FaultSession`)."""

    # For each reply sent, how much of the client's byte stream had arrived by then.
    replies_at: list[int]
    # Octets of a `Stream` the client's kernel took.
    streamed: int


class Hangup(Exception):
    """The session is over: the client left, the script dropped it, or the server is stopping."""


class Wire:
    """Line-oriented reads and writes on one connection, giving up when the server stops."""

    _POLL_SECONDS = 0.05

    def __init__(
        self,
        connection: socket.socket,
        stopping: threading.Event,
        session: Transcript,
        reply_delay: float = 0.0,
    ) -> None:
        self._connection = connection
        self._stopping = stopping
        self._session = session
        self._reply_delay = reply_delay
        self._buffer = b""
        self._received = 0  # bytes taken from the kernel so far
        self._waiting = False  # in `_wait_readable`
        self._parked = False  # told to read no more

    @property
    def position(self) -> int:
        """How far into the client's byte stream the server has looked."""
        return self._received - len(self._buffer)

    @property
    def buffered(self) -> bool:
        """Whether bytes taken from the kernel wait to be looked at."""
        return bool(self._buffer)

    def idle(self) -> bool:
        """Whether the server waits for the client with nothing unread (or reads no more)."""
        if self._parked:
            return True
        if not self._waiting or self._buffer:
            return False
        try:
            return not select.select([self._connection], [], [], 0)[0]
        except (OSError, ValueError):
            return False

    def readline(self) -> bytes:
        while b"\n" not in self._buffer:
            self._fill()
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line + b"\n"

    def read(self, count: int) -> bytes:
        """Exactly `count` bytes (a BDAT chunk)."""
        while len(self._buffer) < count:
            self._fill()
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def send(self, reply: str) -> None:
        if self._reply_delay and self._stopping.wait(self._reply_delay):
            raise Hangup
        self._session.replies_at.append(self._received + self._unread())
        try:
            self._connection.sendall(reply.encode() + b"\r\n")
        except OSError as error:
            raise Hangup from error

    def stream(self, reply: str, stream: Stream) -> None:
        """What `stream` says, before `reply`'s last line (or as that line, when `line` is 0):
        written a chunk at a time, the same bytes over again, so the server's memory stays
        flat however much it sends."""
        self._session.replies_at.append(self._received + self._unread())
        code = reply[:3].encode()
        if not stream.line:
            self._write(code + b" ")
            self._repeat(b"x" * 65536, stream.size, every=0.0)
            self._write(b"\r\n")
            return
        unit = code + b"-" + b"x" * max(stream.line - 6, 0) + b"\r\n"
        if stream.every:
            self._repeat(unit, stream.size, every=stream.every)
        else:
            self._repeat(unit * max(65536 // len(unit), 1), stream.size, every=0.0)

    def _repeat(self, chunk: bytes, size: int, *, every: float) -> None:
        sent = 0
        while sent < size:
            if every and self._stopping.wait(every):
                raise Hangup
            self._write(chunk)  # whole, so that no line is cut: `size` is a floor
            sent += len(chunk)

    def _write(self, data: bytes) -> None:
        try:
            self._connection.sendall(data)
        except OSError as error:
            raise Hangup from error
        self._session.streamed += len(data)

    def wait_for_hangup(self) -> None:
        """Read and ignore everything until the client closes (or the server stops)."""
        while True:
            self._fill()
            self._buffer = b""

    def skip(self, count: int) -> None:
        """Read and drop `count` bytes, and not one more from the kernel."""
        while len(self._buffer) < count:
            self._fill(count - len(self._buffer))
        self._buffer = self._buffer[count:]

    def wait_unread(self, ending: bytes | None = None, at_least: int | None = None) -> None:
        """Wait, reading nothing more, until data waits unread in the kernel's receive buffer;
        with `ending`, until what waits (after anything read already) ends with it; with
        `at_least`, until that much waits."""
        if ending is None and at_least is None:
            self._wait_readable()
            return

        def enough(waiting: bytes) -> bool:
            if ending is not None:
                return waiting.endswith(ending)
            return len(waiting) >= (at_least or 0)

        while not enough(self._buffer + self._peek()):
            # Readable only once more than what is there now has come: no busy loop.
            waiting = len(self._peek())
            self._connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, waiting + 1)
            self._wait_readable()
            if len(self._peek()) == waiting:
                raise Hangup  # readable with nothing new: the client closed

    def abort(self) -> None:
        """Make the coming close an abort: an RST, whatever was read or not."""
        self._connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def stop_reading(self) -> None:
        """Read nothing more, until the server stops."""
        self._parked = True
        self._stopping.wait()
        raise Hangup

    def _peek(self) -> bytes:
        size = self._connection.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        try:
            return self._connection.recv(size, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return b""
        except OSError as error:
            raise Hangup from error

    def _unread(self) -> int:
        """Bytes in the kernel's receive buffer, not taken yet."""
        try:
            waiting = fcntl.ioctl(self._connection.fileno(), termios.FIONREAD, b"\0" * 4)
        except (OSError, ValueError):
            return 0
        return int(struct.unpack("i", waiting)[0])

    def _wait_readable(self) -> None:
        self._waiting = True
        try:
            while not select.select([self._connection], [], [], self._POLL_SECONDS)[0]:
                if self._stopping.is_set():
                    raise Hangup
        finally:
            self._waiting = False

    def _fill(self, limit: int = 65536) -> None:
        self._wait_readable()
        try:
            chunk = self._connection.recv(min(limit, 65536))
        except OSError as error:
            raise Hangup from error
        if not chunk:
            raise Hangup
        self._received += len(chunk)
        self._buffer += chunk
