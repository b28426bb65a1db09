"""The error taxonomy and DreamFactory's error envelope."""

from __future__ import annotations

import pytest

from core import errors
from core.errors import EmailApiError, InvalidRequest
from core.transport.smtp import errors as smtp_errors
from core.transport.smtp.errors import SmtpRejected
from handlers.responses import error_body


@pytest.mark.parametrize(
    ("error_type", "status", "reason"),
    [
        (errors.InvalidRequest, 400, "invalid_request"),
        (errors.Unauthorized, 401, "unauthorized"),
        (errors.Forbidden, 403, "forbidden"),
        (errors.NotFound, 404, "not_found"),
        (errors.Conflict, 409, "conflict"),
        (errors.MessageTooLarge, 413, "message_too_large"),
        (smtp_errors.SmtpFailure, 502, "smtp_error"),
        (smtp_errors.SmtpConnectFailed, 502, "smtp_connect_failed"),
        (smtp_errors.SmtpAuthFailed, 502, "smtp_auth_failed"),
        (smtp_errors.SmtpTlsError, 502, "smtp_tls_error"),
        (smtp_errors.SmtpRejected, 502, "smtp_rejected"),
        (smtp_errors.SmtpTimeout, 504, "smtp_timeout"),
        (errors.EmailApiError, 500, "internal_error"),
    ],
)
def test_status_and_default_reason(
    error_type: type[EmailApiError], status: int, reason: str
) -> None:
    assert error_body(error_type("It failed.")) == {
        "error": {"code": status, "status_code": status, "message": "It failed.", "reason": reason}
    }


def test_envelope_carries_reason_and_context() -> None:
    error = InvalidRequest(
        "Invalid email - 'x'.", reason="invalid_address", context={"field": "to"}
    )

    assert error_body(error) == {
        "error": {
            "code": 400,
            "status_code": 400,
            "message": "Invalid email - 'x'.",
            "reason": "invalid_address",
            "context": {"field": "to"},
        }
    }
    assert str(error) == "Invalid email - 'x'."


def test_smtp_errors_are_smtp_failures() -> None:
    error = SmtpRejected("550 No such user", context={"refused": {"a@example.com": "550"}})

    assert isinstance(error, smtp_errors.SmtpFailure)
    assert error_body(error)["error"]["context"] == {"refused": {"a@example.com": "550"}}
