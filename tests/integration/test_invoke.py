"""Direct invocation by another Lambda: the same result object, the same error envelope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from local_stack.apigateway import LocalLambdaContext
from tests.support.api import call_api, create_service
from tests.support.smtp_servers import LOOPBACK, CaptureServer, Replies

pytestmark = pytest.mark.usefixtures("aws")

MESSAGE = {"to": [{"email": "john@example.com", "name": "John Doe"}], "body_text": "Hi"}


def _invoke(event: Any) -> dict[str, Any]:
    from handlers import invoke  # imported late: the handler reads settings on first use

    result: dict[str, Any] = invoke.lambda_handler(
        event, LocalLambdaContext(timeout_seconds=10).typed()
    )
    return result


@pytest.fixture
def server(smtp_server: Callable[..., CaptureServer]) -> CaptureServer:
    server = smtp_server(replies=Replies(rcpt={"gone@example.com": "550 5.1.1 Mailbox gone"}))
    create_service(
        {"host": LOOPBACK, "port": server.port, "encryption": "none", "from_email": "a@example.com"}
    )
    return server


def test_same_result_as_the_api(server: CaptureServer) -> None:
    message = {**MESSAGE, "cc": "gone@example.com"}

    invoked = _invoke({"service": "email", "message": message})
    over_http = call_api("POST", "/api/v2/email", message).body

    assert invoked.keys() == over_http.keys() == {"count", "id", "message_id", "refused"}
    assert invoked["id"] != over_http["id"]  # each send has its own record
    assert invoked["count"] == over_http["count"] == 1
    assert (
        invoked["refused"] == over_http["refused"] == {"gone@example.com": "550 5.1.1 Mailbox gone"}
    )
    assert [m.rcpt_tos for m in server.messages] == [["john@example.com"]] * 2
    assert server.messages[0].parsed()["Message-ID"] == invoked["message_id"]


@pytest.mark.parametrize(
    ("event", "status", "reason"),
    [
        pytest.param({"message": MESSAGE}, 400, "invalid_request", id="no-service"),
        pytest.param({"service": "email"}, 400, "invalid_request", id="no-message"),
        pytest.param("email", 400, "invalid_request", id="not-an-object"),
        pytest.param(
            {"service": "email", "message": {**MESSAGE, "to": "nobody"}},
            400,
            "invalid_address",
            id="bad-address",
        ),
        pytest.param(
            {"service": "email", "message": {"to": "john@example.com"}},
            400,
            "no_body",
            id="no-body",
        ),
        pytest.param({"service": "other", "message": MESSAGE}, 404, "service_not_found", id="404"),
    ],
)
def test_error_envelope(server: CaptureServer, event: Any, status: int, reason: str) -> None:
    result = _invoke(event)

    assert result["error"]["code"] == status
    assert result["error"]["reason"] == reason
    assert result["error"]["message"]
    assert server.sessions == 0


def test_smtp_failure_envelope(smtp_server: Callable[..., CaptureServer]) -> None:
    server = smtp_server(replies=Replies(data="554 5.6.0 Message content rejected"))
    create_service(
        {"host": LOOPBACK, "port": server.port, "encryption": "none", "from_email": "a@example.com"}
    )

    result = _invoke({"service": "email", "message": MESSAGE})

    assert (result["error"]["code"], result["error"]["reason"]) == (502, "smtp_rejected")
    assert "554 5.6.0 Message content rejected" in result["error"]["message"]
