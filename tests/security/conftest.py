"""The hostile-input suite runs on the integration layer's parts: moto, real SMTP servers on
loopback, the test CA, the send queue. Its fixtures are those, shared rather than copied, and
a scripted server that misbehaves on purpose."""

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from tests.integration.conftest import (  # noqa: F401 (fixtures are found by name)
    _function_loggers,
    authorities,
    closed_port,
    configure,
    function_logs,
    no_leaked_threads,
    send_queue,
    server,
    silent_server,
    smtp_environment,
    smtp_server,
)
from tests.support.smtp_servers import Fault, FaultServer


@pytest.fixture
def fault_server() -> Iterator[Callable[..., FaultServer]]:
    """Starts FaultServers with the given faults; all stop at teardown."""
    with ExitStack() as running:

        def start(*faults: Fault) -> FaultServer:
            return running.enter_context(FaultServer(*faults))

        yield start
