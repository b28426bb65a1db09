"""The local stack runs the webhook sender as the template says, and lets a developer's
webhooks call a server on loopback (deployed, the operator decides)."""

from __future__ import annotations

import os

import pytest

from local_stack.environment import point_handlers_at
from local_stack.worker_poller import template_queue_sources


def test_the_webhook_queue_feeds_the_sender_with_partial_batch_responses() -> None:
    (source,) = [s for s in template_queue_sources() if s.queue == "WebhookQueue"]

    assert source.function == "WebhookSenderFunction"
    assert source.reports_batch_item_failures


def test_loopback_and_http_are_allowed_locally_unless_the_developer_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environment: dict[str, str] = {}
    monkeypatch.setattr(os, "environ", environment)

    point_handlers_at("http://127.0.0.1:4566")
    defaults = dict(environment)
    environment.clear()
    environment["ATTACHMENT_FETCH_ALLOW_LOOPBACK"] = "false"  # the former name still counts
    point_handlers_at("http://127.0.0.1:4566")

    assert defaults["WEBHOOK_QUEUE_URL"].endswith("/email-api-webhook-queue")
    assert (defaults["OUTBOUND_ALLOW_LOOPBACK"], defaults["OUTBOUND_ALLOW_HTTP"]) == (
        "true",
        "true",
    )
    assert environment["OUTBOUND_ALLOW_LOOPBACK"] == "false"
