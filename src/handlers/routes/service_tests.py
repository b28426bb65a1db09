"""`POST /api/v2/system/service/{id_or_name}/test`: connect to a service's server as a send would,
and report what happened, without sending mail (admin keys only)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, ConfigDict, Field

from core import runtime
from core.access.audit import audit
from core.clock import SystemClock
from core.services.connection_check import check_connection
from core.transport.base import Deadline
from core.transport.ses.report import SesConnectionReport
from core.transport.smtp.probe import SmtpConnectionReport
from core.validation import NUMBER_ONLY
from handlers.answers import documented, errors
from handlers.http import caller
from handlers.routes.services import IdOrName

router = Router()

_EXAMPLE: dict[str, Any] = {
    "ok": False,
    "service": "email",
    "host": "email-smtp.us-east-1.amazonaws.com",
    "port": 587,
    "encryption": "tls",
    "verify_tls": True,
    "stages": [
        {"stage": "connect", "ok": True, "ms": 21.4},
        {"stage": "greeting", "ok": True, "ms": 48.0},
        {"stage": "ehlo", "ok": True, "ms": 19.2},
        {"stage": "starttls", "ok": True, "ms": 61.7},
        {"stage": "ehlo", "ok": True, "ms": 19.5},
        {"stage": "auth", "ok": False, "ms": 22.9},
    ],
    "connection": {"address": "203.0.113.25", "port": 587, "connect_ms": 21.4},
    "greeting": "220 email-smtp.amazonaws.com ESMTP SimpleEmailService",
    "tls": {
        "mode": "starttls",
        "version": "TLSv1.3",
        "cipher": "TLS_AES_256_GCM_SHA384",
        "verified": True,
        "verify_error": None,
        "certificate": {
            "subject": "CN=email-smtp.us-east-1.amazonaws.com",
            "issuer": "CN=Amazon RSA 2048 M02, O=Amazon, C=US",
            "not_before": "2026-06-01T00:00:00Z",
            "not_after": "2027-06-30T23:59:59Z",
            "days_to_expiry": 212,
            "subject_alt_names": ["DNS:email-smtp.us-east-1.amazonaws.com"],
        },
    },
    "ehlo": [
        {
            "command": "EHLO",
            "tls": False,
            "server": "email-smtp.amazonaws.com",
            "capabilities": {
                "extensions": {"8BITMIME": "", "SIZE": "10485760", "STARTTLS": "", "OK": ""},
                "starttls": True,
                "pipelining": False,
                "chunking": False,
                "smtputf8": False,
                "eight_bit_mime": True,
                "size": 10485760,
                "auth": [],
            },
        },
        {
            "command": "EHLO",
            "tls": True,
            "server": "email-smtp.amazonaws.com",
            "capabilities": {
                "extensions": {"8BITMIME": "", "SIZE": "10485760", "AUTH": "PLAIN LOGIN", "OK": ""},
                "starttls": False,
                "pipelining": False,
                "chunking": False,
                "smtputf8": False,
                "eight_bit_mime": True,
                "size": 10485760,
                "auth": ["PLAIN", "LOGIN"],
            },
        },
    ],
    "auth": {"username": "AKIAEXAMPLE", "succeeded": False, "mechanisms": ["PLAIN", "LOGIN"]},
    "error": {
        "reason": "smtp_auth_failed",
        "message": "The SMTP server refused our credentials: 535 Authentication Credentials"
        " Invalid",
        "stage": "auth",
        "smtp_code": 535,
        "transient": False,
    },
    "elapsed_ms": 192.7,
}


_SES_EXAMPLE: dict[str, Any] = {
    "ok": False,
    "service": "ses",
    "stages": [
        {"stage": "account", "ok": True, "ms": 38.2},
        {"stage": "identity", "ok": False, "ms": 21.7},
    ],
    "error": {
        "reason": "ses_identity_not_verified",
        "message": "SES has not verified example.com for sending (verification PENDING).",
        "stage": "identity",
        "smtp_code": None,
        "transient": False,
    },
    "elapsed_ms": 60.1,
    "region": "eu-west-1",
    "configuration_set": "events",
    "account": {
        "sending_enabled": True,
        "production_access": False,
        "enforcement_status": "HEALTHY",
        "max_24_hour_send": 200.0,
        "max_send_rate": 1.0,
        "sent_last_24_hours": 3.0,
    },
    "identity": {
        "sender": "noreply@example.com",
        "identity": "example.com",
        "verified_for_sending": False,
        "identity_type": "DOMAIN",
        "verification_status": "PENDING",
    },
}


class ServiceTestOptions(BaseModel):
    """How the test runs; every field optional."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"timeout_seconds": 5}]}
    )

    timeout_seconds: Annotated[float, Field(gt=0, le=900), NUMBER_ONLY] | None = Field(
        default=None,
        description="Give up sooner than a send would (it never waits longer than a send: "
        "SMTP_TIMEOUT_SECONDS, within what the function has left).",
    )


class SmtpTestAnswer(SmtpConnectionReport):
    """What an SMTP service's connection test found: every stage passed (`ok`), or where and
    why not."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})


class SesTestAnswer(SesConnectionReport):
    """What an SES service's connection test found (`type: ses`): the account may send in the
    region, and the default sender's identity is verified (`ok`), or where and why not."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SES_EXAMPLE]})


# Each transport's report: the service's type says which.
ServiceTestAnswer = SmtpTestAnswer | SesTestAnswer


@router.post(
    "/api/v2/system/service/<id_or_name>/test",
    summary="Test a service's connection",
    description="An SMTP service: connects to its server with its settings and credentials, as "
    "a send would (the same SSRF guard, TLS checks and errors), and reports the address, TLS "
    "and certificate, the greeting, EHLO capabilities and AUTH; then QUIT. An SES service "
    "(`type: ses`): asks SES whether the account may send in the region (and whether it is in "
    "the sandbox) and whether the default sender's identity is verified. No mail is sent. A "
    "failed test is still a 200, with `ok: false` and the `error` (reason, message, stage) a "
    "send would have got.",
    tags=["services"],
    responses={
        200: documented("The test ran: its report.", ServiceTestAnswer),
        **errors(400, 401, 403, 404),
    },
)
def run_service_test(
    id_or_name: IdOrName,
    options: Annotated[
        ServiceTestOptions | None, Body(description="Optional: no body, a send's time budget.")
    ] = None,
) -> dict[str, Any]:
    context = router.lambda_context
    deadline = runtime.send_deadline(context.get_remaining_time_in_millis() if context else None)
    if options is not None and options.timeout_seconds is not None:
        deadline = Deadline(min(deadline.at, Deadline.after(options.timeout_seconds).at))
    services = runtime.service_repository()
    name = services.get(id_or_name).name
    report = check_connection(services, runtime.transports(), name, deadline, SystemClock())
    audit(caller(router), "service.test", name, ok=report.ok)
    return report.model_dump(mode="json")
