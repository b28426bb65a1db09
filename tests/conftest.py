"""Fixtures every test layer shares: a clean environment, moto's AWS, the API."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber
from moto.core.config import DefaultConfig

from local_stack.template_tables import create_tables
from tests.support.api import ADMIN_KEY

TABLE_NAMES = {
    "ServicesTable": "email-api-services",
    "RolesTable": "email-api-roles",
    "ApiKeysTable": "email-api-api-keys",
    "RateLimitsTable": "email-api-rate-limits",
    "MessagesTable": "email-api-messages",
    "IdempotencyTable": "email-api-idempotency",
    "TemplatesTable": "email-api-templates",
    "SuppressionsTable": "email-api-suppressions",
    "StatsTable": "email-api-stats",
    "WebhooksTable": "email-api-webhooks",
    "WebhookDeliveriesTable": "email-api-webhook-deliveries",
}
ADMIN_KEY_SECRET = "email-api/admin-key"
# What template.yaml's Globals give every function, and core.settings requires. The queue and
# bucket exist only in tests that ask for them (the `send_queue` fixture sets its own).
REQUIRED_SETTINGS = {
    "SERVICES_TABLE": TABLE_NAMES["ServicesTable"],
    "ROLES_TABLE": TABLE_NAMES["RolesTable"],
    "API_KEYS_TABLE": TABLE_NAMES["ApiKeysTable"],
    "RATE_LIMITS_TABLE": TABLE_NAMES["RateLimitsTable"],
    "MESSAGES_TABLE": TABLE_NAMES["MessagesTable"],
    "IDEMPOTENCY_TABLE": TABLE_NAMES["IdempotencyTable"],
    "TEMPLATES_TABLE": TABLE_NAMES["TemplatesTable"],
    "SUPPRESSIONS_TABLE": TABLE_NAMES["SuppressionsTable"],
    "STATS_TABLE": TABLE_NAMES["StatsTable"],
    "WEBHOOKS_TABLE": TABLE_NAMES["WebhooksTable"],
    "WEBHOOK_DELIVERIES_TABLE": TABLE_NAMES["WebhookDeliveriesTable"],
    "SEND_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/email-api-send-queue",
    "STAGING_BUCKET": "email-api-staging",
    "WEBHOOK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/email-api-webhook-queue",
}

# Powertools loggers take the service name when created, at import time, as they do in Lambda
# (where the variable is set before any code loads); so it is set before any test imports core.
os.environ["POWERTOOLS_SERVICE_NAME"] = "email-api"
# Handlers check their settings at import (a cold start), and some test modules import them
# when collected, before any fixture runs.
os.environ.update(REQUIRED_SETTINGS)


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and the functions' settings; nothing can reach real AWS."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name in [n for n in os.environ if n.startswith("MAIL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name, value in REQUIRED_SETTINGS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AUTH_CACHE_SECONDS", "0")  # revocation must show at once in tests
    monkeypatch.delenv("INVOKE_ROLE", raising=False)
    monkeypatch.setenv("SECRET_PREFIX", "email-api")
    monkeypatch.setenv("ADMIN_KEY_SECRET_ID", ADMIN_KEY_SECRET)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "email-api")
    monkeypatch.setenv("SMTP_TIMEOUT_SECONDS", "5")
    # Every test SMTP server listens on 127.0.0.1 on a port the system picks.
    monkeypatch.setenv("SMTP_ALLOW_LOOPBACK", "true")
    monkeypatch.setenv("SMTP_ALLOWED_PORTS", "*")
    monkeypatch.delenv("SMTP_ALLOW_PRIVATE", raising=False)
    from core import runtime  # after the environment above is in place

    runtime.reset()
    yield
    runtime.reset()


# moto answers one request at a time, as AWS applies each (conditional) write atomically: the
# worker's lanes call it from several threads, and moto's backends take no lock of their own.
_MOTO_REQUESTS = threading.RLock()

# moto gives each test a new default boto3 session unless told not to, and a new session
# parses botocore's service models again: about 0.13 s a client, five or more clients a test,
# most of an integration test's time. No test reaches AWS (the credentials are fake, and moto
# answers every call), which is what the fresh session guards against; so one session serves
# them all, and each test still gets moto's state fresh.
KEEP_BOTO3_SESSION: DefaultConfig = {"core": {"reset_boto3_session": False}}


def _one_at_a_time(call: Any) -> Any:
    def locked(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        with _MOTO_REQUESTS:
            return call(self, event_name, request, **kwargs)

    return locked


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's DynamoDB and Secrets Manager, with the template's tables and the admin key."""
    monkeypatch.setattr(BotocoreStubber, "__call__", _one_at_a_time(BotocoreStubber.__call__))
    with mock_aws(config=KEEP_BOTO3_SESSION):
        create_tables(boto3.client("dynamodb"), TABLE_NAMES)
        boto3.client("secretsmanager").create_secret(Name=ADMIN_KEY_SECRET, SecretString=ADMIN_KEY)
        yield
