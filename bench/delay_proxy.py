"""A TCP proxy on loopback that makes a long link out of a short one: every chunk it reads is
written on `delay` seconds after it arrived, in order, in both directions.

So a round trip through it costs 2 x `delay` (the RTT), and what a client writes in one
flight (pipelined commands) costs one RTT, not one per line: the delay is per chunk, from its
arrival, not queued behind the previous chunk's wait. It accepts at once and connects to the
target at once: TCP's own handshake is not delayed, the server's greeting is (half an RTT),
as the issue's figures count it. An end of stream is passed on, delayed the same way.

Its event loop runs on a thread of its own; `DelayProxy` is a context manager.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from types import TracebackType
from typing import Self

HOST = "127.0.0.1"
DEFAULT_DELAY_SECONDS = 0.025  # one way: an RTT of 50 ms
_CHUNK = 65536


class DelayProxy:
    """Listens on 127.0.0.1 (`port` 0: a free one) and forwards to `target`, `delay` seconds
    late each way. `connections` counts the client connections it accepted."""

    def __init__(self, target: tuple[str, int], *, delay: float = DEFAULT_DELAY_SECONDS) -> None:
        if delay < 0:
            raise ValueError("the delay cannot be negative")
        self.target = target
        self.delay = delay
        self.connections = 0
        # Bound here, so the port is known (and held) before the loop starts.
        self._listener = socket.create_server((HOST, 0))
        self.port: int = self._listener.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="delay-proxy", daemon=True)
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None

    @property
    def rtt(self) -> float:
        return 2 * self.delay

    def start(self) -> Self:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the delay proxy did not start")
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._listener.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, sock=self._listener)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            tasks = asyncio.all_tasks(self._loop)
            for task in tasks:
                task.cancel()
            # Connections still open at the end are cut: their tasks end here, quietly.
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self._loop.close()

    async def _serve(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        try:
            server_in, server_out = await asyncio.open_connection(*self.target)
        except OSError:
            client_out.close()
            return
        for writer in (client_out, server_out):
            _no_delay(writer)
        try:
            await asyncio.gather(
                self._pipe(client_in, server_out),
                self._pipe(server_in, client_out),
                return_exceptions=True,
            )
        except asyncio.CancelledError:
            # The proxy is stopping: the connection is cut, which is all a stop means. Ending
            # normally keeps asyncio from reporting a cancelled connection callback.
            pass
        finally:
            for writer in (client_out, server_out):
                writer.close()

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        """Read chunks as they come; a second task writes each one when it falls due."""
        loop = asyncio.get_running_loop()
        due: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        writer = asyncio.create_task(self._write_when_due(due, sink))
        try:
            while True:
                try:
                    chunk = await source.read(_CHUNK)
                except OSError:
                    chunk = b""
                due.put_nowait((loop.time() + self.delay, chunk))
                if not chunk:
                    break
            await writer
        finally:
            writer.cancel()

    @staticmethod
    async def _write_when_due(
        due: asyncio.Queue[tuple[float, bytes]], sink: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            at, chunk = await due.get()
            wait = at - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                if not chunk:  # the end of the stream, passed on as late as the data
                    if sink.can_write_eof():
                        sink.write_eof()
                    return
                sink.write(chunk)
                await sink.drain()
            except OSError:
                return


def _no_delay(writer: asyncio.StreamWriter) -> None:
    # Nagle's algorithm would hold small chunks back for an ACK: that is the client's
    # stack's business, not the link's.
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
