"""The hostile-input suite runs on the integration layer's parts: moto, real SMTP servers on
loopback, the test CA, the send queue. Its fixtures are those, shared rather than copied."""

from tests.integration.conftest import (  # noqa: F401 (fixtures are found by name)
    _function_loggers,
    authorities,
    closed_port,
    configure,
    function_logs,
    no_leaked_threads,
    send_queue,
    silent_server,
    smtp_environment,
    smtp_server,
)
