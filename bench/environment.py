"""The settings core needs before it is imported: the SSRF guard opened to loopback (every
benchmark server listens on 127.0.0.1, on ports the system picks), and the table names every
function is deployed with (core's settings require them; nothing here touches AWS)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# The Lambda code is deployed, not installed: `src/` is on the path as pytest puts it there.
SRC = Path(__file__).resolve().parent.parent / "src"

BENCH_SETTINGS = {
    "SMTP_ALLOW_LOOPBACK": "true",
    "SMTP_ALLOWED_PORTS": "*",
    "SMTP_TIMEOUT_SECONDS": "30",
    "POWERTOOLS_SERVICE_NAME": "email-api-bench",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "SERVICES_TABLE": "bench-services",
    "ROLES_TABLE": "bench-roles",
    "API_KEYS_TABLE": "bench-api-keys",
    "RATE_LIMITS_TABLE": "bench-rate-limits",
    "MESSAGES_TABLE": "bench-messages",
    "IDEMPOTENCY_TABLE": "bench-idempotency",
    "TEMPLATES_TABLE": "bench-templates",
    "SUPPRESSIONS_TABLE": "bench-suppressions",
    "STATS_TABLE": "bench-stats",
    "WEBHOOKS_TABLE": "bench-webhooks",
    "WEBHOOK_DELIVERIES_TABLE": "bench-webhook-deliveries",
    "SEND_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench",
    "WEBHOOK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-webhooks",
    "STAGING_BUCKET": "bench-staging",
}


def configure(ca_file: str = "") -> None:
    """Put the benchmark's settings in this process's environment (before core loads)."""
    if str(SRC) not in sys.path:
        sys.path.insert(0, str(SRC))
    os.environ.update(BENCH_SETTINGS)
    if ca_file:
        os.environ["SMTP_CA_FILE"] = ca_file


def use_moto_credentials() -> None:
    """Fake credentials in us-east-1, no endpoint, no profile: `moto.mock_aws` answers every
    call this process makes, and nothing can reach a real account."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106  # moto takes any
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
    )
