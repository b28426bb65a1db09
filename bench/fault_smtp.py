"""A misbehaving SMTP server on loopback for the soak run: it deals out faults at random and
keeps the ground truth of what it received, to check every status the API reports against.

Per transaction, with the given probabilities:
- `defer`: 451 to RCPT (the client must try again later);
- `reset_mid_data`: after the DATA command's 354, close with unread data (SO_LINGER 0: RST)
  before the final dot is read: the message was *not* taken;
- `drop_after_dot`: read the whole message and its dot, then close (FIN) without a reply:
  the message *was* received, and the client cannot know: a true `unknown`;
- otherwise `250`.

`received` maps each message's soak id (from its Subject) to how many times its final dot
arrived; `unanswered` holds the ids whose dot arrived on a connection that was then dropped.
"""

from __future__ import annotations

import asyncio
import random
import re
import socket
import struct
import threading
from collections import Counter
from dataclasses import dataclass, field

SOAK_ID = re.compile(rb"^Subject: soak (\S+)", re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True)
class Faults:
    defer: float = 0.0
    reset_mid_data: float = 0.0
    drop_after_dot: float = 0.0


@dataclass
class GroundTruth:
    received: Counter[str] = field(default_factory=Counter)
    unanswered: set[str] = field(default_factory=set)
    faults: Counter[str] = field(default_factory=Counter)


class FaultSmtpServer:
    """An asyncio SMTP server on its own thread; a context manager."""

    def __init__(self, faults: Faults, *, seed: int = 7) -> None:
        self.faults = faults
        self.truth = GroundTruth()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-smtp", daemon=True)
        self.port = 0

    def __enter__(self) -> FaultSmtpServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._session, "127.0.0.1", 0, backlog=512, limit=2**24)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()

    def _roll(self, name: str, probability: float) -> bool:
        with self._lock:
            hit = self._random.random() < probability
            if hit:
                self.truth.faults[name] += 1
            return hit

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._converse(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def reply(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        await reply("220 fault.example ESMTP soak")
        while line := await reader.readline():
            command = line[:4].upper()
            if command in (b"EHLO", b"HELO"):
                await reply("250-fault.example\r\n250 SIZE 52428800")
            elif command == b"MAIL":
                await reply("250 2.1.0 OK")
            elif command == b"RCPT":
                deferred = self._roll("defer", self.faults.defer)
                await reply("451 4.3.0 try again later" if deferred else "250 2.1.5 OK")
            elif command == b"DATA":
                await reply("354 go ahead")
                if self._roll("reset_mid_data", self.faults.reset_mid_data):
                    _reset(writer)
                    return
                data = await reader.readuntil(b"\r\n.\r\n")
                soak_id = _soak_id(data)
                with self._lock:
                    self.truth.received[soak_id] += 1
                if self._roll("drop_after_dot", self.faults.drop_after_dot):
                    with self._lock:
                        self.truth.unanswered.add(soak_id)
                    return  # FIN, no reply
                await reply("250 2.0.0 queued")
            elif command == b"RSET":
                await reply("250 OK")
            elif command == b"QUIT":
                await reply("221 bye")
                return
            else:
                await reply("502 5.5.2 not implemented")


def _soak_id(data: bytes) -> str:
    found = SOAK_ID.search(data)
    return found.group(1).decode() if found else "?"


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close so that the kernel sends RST: linger on, timeout zero."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
