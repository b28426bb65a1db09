"""Integration fixtures: moto for AWS (the `aws` fixture), real SMTP servers on loopback,
test certificates the functions trust through SMTP_CA_FILE, and the functions' log output."""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from core import runtime
from tests.support.api import create_plain_service, create_service
from tests.support.local_moto import forget_moto
from tests.support.queue_worker import SendQueue
from tests.support.ses_endpoint import SesEndpoint
from tests.support.ses_events import SES_SERVICE
from tests.support.smtp_servers import (
    Authorities,
    Authority,
    CaptureServer,
    ClosedPort,
    FaultServer,
    Security,
    SilentServer,
)
from tests.support.web_servers import WebServer, answer
from tests.support.webhook_endpoint import HOOK
from tests.support.webhook_queue import WebhookCalls

# The send path's key test files run against servers offering no extension (as aiosmtpd does)
# and again offering PIPELINING, CHUNKING or both (aiosmtpd only ever PIPELINING: it has no
# BDAT); the transport's path follows what EHLO offers, and what the tests assert must not
# depend on it. SMTP_TEST_EXTENSIONS ("PIPELINING,CHUNKING", say) runs any other test once
# against servers offering those.
_LOCKSTEP: tuple[str, ...] = ()
_EXTENSION_VARIANTS = {
    "lockstep": _LOCKSTEP,
    "pipelining": ("PIPELINING",),
    "chunking": ("CHUNKING",),
    "pipelining+chunking": ("PIPELINING", "CHUNKING"),
}
_VARIANTS_BY_MODULE = {
    "test_send_recipients": ["lockstep", "pipelining"],
    "test_send_failures": ["lockstep", "pipelining"],
    "test_send_encryption": ["lockstep", "pipelining"],
    # A worker's batch writes each message's envelope behind the previous one's dot when the
    # server offers PIPELINING alone.
    "test_delivery_queue": ["lockstep", "pipelining"],
    "test_queued_message": ["lockstep", "pipelining"],
    # Its two ends: lockstep, and what Postfix, Gmail and Microsoft 365 offer (the two halves
    # run in tests/integration/test_transport_pipelining.py); all four would double its time.
    "test_delivery_fault_matrix": ["lockstep", "pipelining+chunking"],
}


# Tests whose premise is a failure before the message is written: with CHUNKING it leaves with
# BDAT, in the same write as MAIL and RCPT when pipelined, so a server that then drops or stalls
# at MAIL, RCPT or DATA has been handed the whole message and the outcome is unknown, by design
# (see core.transport.smtp.session; test_transport_pipelining covers those cases).
_BEFORE_THE_MESSAGE = {
    "test_a_connection_dropped_before_the_dot_is_retried",
    "test_a_server_that_stalls_before_the_dot_is_retried",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    variants = _VARIANTS_BY_MODULE.get(metafunc.module.__name__.rpartition(".")[2])
    if variants and metafunc.function.__name__ in _BEFORE_THE_MESSAGE:
        variants = [name for name in variants if "CHUNKING" not in _EXTENSION_VARIANTS[name]]
    if variants and "smtp_extensions" in metafunc.fixturenames:
        metafunc.parametrize(
            "smtp_extensions",
            [_EXTENSION_VARIANTS[name] for name in variants],
            ids=variants,
            indirect=True,
        )


@pytest.fixture(autouse=True)
def smtp_extensions(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the test's capture and fault servers offer in EHLO unless told otherwise."""
    from_environment = os.environ.get("SMTP_TEST_EXTENSIONS", "")
    extensions: tuple[str, ...] = getattr(
        request,
        "param",
        tuple(word.strip().upper() for word in from_environment.split(",") if word.strip()),
    )
    monkeypatch.setattr(CaptureServer, "default_extensions", extensions)
    monkeypatch.setattr(FaultServer, "default_extensions", extensions)


@pytest.fixture
def fresh_moto() -> Iterator[None]:
    """The local stack's moto backends, empty before and after the test (they live in this
    process); for the modules that run the stack's moto server here."""
    forget_moto()
    yield
    forget_moto()


@pytest.fixture(scope="session")
def authorities(tmp_path_factory: pytest.TempPathFactory) -> Authorities:
    directory = tmp_path_factory.mktemp("tls")
    return Authorities(
        trusted=Authority.create(directory, "trusted"),
        untrusted=Authority.create(directory, "untrusted"),
    )


@pytest.fixture(autouse=True)
def smtp_environment(
    aws_environment: None, authorities: Authorities, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The functions trust the test CA (on top of the system store); waits stay short."""
    monkeypatch.setenv("SMTP_CA_FILE", str(authorities.trusted.bundle))
    monkeypatch.setenv("SMTP_TIMEOUT_SECONDS", "3")
    runtime.reset()


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Every server a test starts is stopped by the time its fixtures are torn down."""
    before = set(threading.enumerate())
    yield
    leaked = [thread for thread in threading.enumerate() if thread not in before]
    assert not leaked, f"threads left running: {leaked}"


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set the functions' environment variables, as a fresh Lambda container would read them."""

    def apply(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        runtime.reset()

    return apply


@pytest.fixture
def send_queue(aws: None, configure: Callable[..., None]) -> SendQueue:
    """The send queue and staging bucket in moto; retries come back after a second or so."""
    queue = SendQueue.create()
    configure(
        SEND_QUEUE_URL=queue.url,
        STAGING_BUCKET=queue.bucket,
        RETRY_BASE_SECONDS="0.5",
        MAX_ATTEMPTS="3",
    )
    return queue


@pytest.fixture
def smtp_server(authorities: Authorities) -> Iterator[Callable[..., CaptureServer]]:
    """Starts capture servers (TLS ones present the trusted certificate); all stop at teardown."""
    with ExitStack() as running:

        def start(
            security: Security = Security.PLAIN,
            *,
            authority: Authority | None = None,
            **options: Any,
        ) -> CaptureServer:
            if authority is None and security is not Security.PLAIN:
                authority = authorities.trusted
            server = CaptureServer(security=security, authority=authority, **options)
            return running.enter_context(server)

        yield start
        # Kept SMTP connections close before the servers stop: aiosmtpd's stop waits for its
        # connections, and one over TLS that the client holds open costs its 30 s TLS shutdown.
        runtime.reset()


@pytest.fixture
def one_connection_per_send(configure: Callable[..., None]) -> None:
    """For tests that count SMTP sessions to show which sends connected at all (a refused
    send never does): without reuse, every send that connects is a session of its own."""
    configure(SMTP_REUSE_CONNECTIONS="false")


@pytest.fixture
def server(smtp_server: Callable[..., CaptureServer]) -> CaptureServer:
    """A capture server behind the plain `email` service (sending as noreply@example.com);
    test modules that need another set-up define their own `server`."""
    server = smtp_server()
    create_plain_service(server.port)
    return server


@pytest.fixture
def ses(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[SesEndpoint]:
    """The stand-in SES endpoint, where the functions' SES client goes, and the `email`
    service of type `ses` (`SES_SERVICE`: sending as SES_SENDER, configuration set `events`)."""
    with SesEndpoint() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", endpoint.url)
        create_service(SES_SERVICE, type="ses")
        yield endpoint


@pytest.fixture
def webhook_calls(aws: None, monkeypatch: pytest.MonkeyPatch) -> WebhookCalls:
    """The webhook queue, and the operator's allowance for test servers on loopback (plain
    HTTP too)."""
    queue = WebhookCalls.create()
    monkeypatch.setenv("WEBHOOK_QUEUE_URL", queue.url)
    monkeypatch.setenv("OUTBOUND_ALLOW_LOOPBACK", "true")
    monkeypatch.setenv("OUTBOUND_ALLOW_HTTP", "true")
    runtime.reset()
    return queue


@pytest.fixture
def webhook_endpoint() -> Iterator[WebServer]:
    """A webhook's receiving end on loopback: `HOOK` answers 200."""
    with WebServer() as server:
        server.routes[HOOK] = answer(200, b"thanks")
        yield server


@pytest.fixture
def closed_port() -> Iterator[ClosedPort]:
    with ClosedPort() as port:
        yield port


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


class _CurrentStdout(io.TextIOBase):
    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def _function_loggers() -> None:
    """Import the handlers (creating their loggers) before a test starts capturing stdout."""
    import handlers.api
    import handlers.invoke  # noqa: F401


@pytest.fixture
def function_logs(
    _function_loggers: None, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[[], str]]:
    """Returns everything the functions logged (powertools JSON lines on stdout) so far."""
    from handlers import observed

    service_logger = logging.getLogger(observed.logger.name)
    # Powertools binds its handler to whatever sys.stdout was when the first Logger was made,
    # and pytest swaps sys.stdout at each test phase; write to the current one, as Lambda does.
    streams = [h for h in service_logger.handlers if isinstance(h, logging.StreamHandler)]
    previous_streams = [handler.setStream(_CurrentStdout()) for handler in streams]
    seen: list[str] = []

    def read() -> str:
        seen.append(capsys.readouterr().out)
        # The metrics' EMF lines go to stdout too: those are not log lines (`emf_lines` reads them).
        return "".join(line for line in "".join(seen).splitlines(True) if '"_aws"' not in line)

    yield read
    for handler, stream in zip(streams, previous_streams, strict=True):
        handler.setStream(stream)
