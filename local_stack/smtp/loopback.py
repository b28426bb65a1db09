"""aiosmtpd on 127.0.0.1: plain, STARTTLS or implicit TLS, with AUTH when asked for.

The server binds its listening socket itself, before aiosmtpd starts: aiosmtpd's Controller
cannot listen on port 0, and a port probed free and then released can be taken by another
process (another test worker) before the server binds it. Holding the socket closes that gap.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from enum import StrEnum
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from local_stack.config import HOST

# What aiosmtpd calls with each AUTH attempt: server, session, envelope, mechanism, credentials.
Authenticator = Callable[[SMTP, Session, Envelope, str, Any], AuthResult]


class Security(StrEnum):
    PLAIN = "plain"  # no TLS at all: STARTTLS is not offered
    STARTTLS = "starttls"  # plain greeting, STARTTLS offered (and possibly required)
    IMPLICIT = "implicit"  # TLS from the first byte, port 465 style


def is_tls(server: SMTP) -> bool:
    """Whether the connection `server` speaks on is encrypted (implicit TLS or after STARTTLS)."""
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


class LoopbackSmtp:
    """aiosmtpd serving `handler` on 127.0.0.1 (`port` 0: a free one), on a thread of its own.

    A TLS server presents `tls` (STARTTLS or implicit, as `security` says). With an
    `authenticator` AUTH is offered: only after STARTTLS on a STARTTLS server, and from the
    start on the others (implicit TLS is encryption too; on a plain server, offering AUTH in
    clear text is what lets a test prove that a client never used it). A context manager.
    """

    def __init__(
        self,
        handler: object,
        *,
        port: int = 0,
        security: Security = Security.PLAIN,
        tls: ssl.SSLContext | None = None,
        require_starttls: bool = False,
        authenticator: Authenticator | None = None,
    ) -> None:
        if security is not Security.PLAIN and tls is None:
            raise ValueError(f"a {security} server needs a TLS context for its certificate")
        self.security = security
        self._listener = socket.create_server((HOST, port))
        self.port: int = self._listener.getsockname()[1]
        self._sessions = 0
        self._open = 0  # connections open now
        self._most_open = 0  # the most open at once since `start`
        options: dict[str, Any] = {}
        if authenticator is not None:
            options.update(
                authenticator=authenticator, auth_require_tls=security is Security.STARTTLS
            )
        self._controller = _BoundController(
            handler,
            self._listener,
            self._count_session,
            self._count_close,
            # A fixed name spares a reverse DNS lookup (getfqdn) at every start.
            server_hostname="localhost",
            ssl_context=tls if security is Security.IMPLICIT else None,
            tls_context=tls if security is Security.STARTTLS else None,
            require_starttls=require_starttls,
            **options,
        )

    @property
    def sessions(self) -> int:
        """SMTP connections clients opened (not counting the one `start` makes to check)."""
        return self._sessions

    @property
    def most_open_at_once(self) -> int:
        """The most SMTP connections open at the same time since `start`."""
        return self._most_open

    @property
    def open_now(self) -> int:
        """SMTP connections open right now."""
        return self._open

    def start(self) -> Self:
        """Serve until `stop`; returns once the server answers."""
        try:
            self._controller.start()
        except BaseException:
            self._controller.stop(no_assert=True)
            if not self._controller.loop.is_closed():
                self._controller.loop.close()
            self._listener.close()
            raise
        self._sessions = 0
        self._most_open = self._open
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _count_session(self) -> None:
        # On the server's own thread, one connection at a time: no lock needed.
        self._sessions += 1
        self._open += 1
        self._most_open = max(self._most_open, self._open)

    def _count_close(self) -> None:
        self._open -= 1


class _BoundController(Controller):
    """aiosmtpd's Controller on a listening socket bound beforehand, counting connections."""

    def __init__(
        self,
        handler: object,
        listener: socket.socket,
        on_session: Callable[[], None],
        on_close: Callable[[], None],
        **options: Any,
    ) -> None:
        super().__init__(handler, hostname=HOST, port=listener.getsockname()[1], **options)
        self._listener = listener
        self._on_session = on_session
        self._on_close = on_close

    def _create_server(self) -> Any:
        return self.loop.create_server(
            self._factory_invoker, sock=self._listener, ssl=self.ssl_context
        )

    def factory(self) -> SMTP:
        # Called once per accepted connection; what Controller.factory does, after counting.
        self._on_session()
        return _CountedSmtp(self._on_close, self.handler, **self.SMTP_kwargs)


class _CountedSmtp(SMTP):
    """aiosmtpd's protocol for one connection, saying when it is closed."""

    def __init__(self, on_close: Callable[[], None], handler: object, **options: Any) -> None:
        super().__init__(handler, **options)
        self._on_close = on_close

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._on_close()
