"""`mailer webhooks list|add|remove|test|deliveries` against the API's own handlers (moto
behind them), calling a web server on loopback."""

from __future__ import annotations

import io
import json

import pytest

from mailer_cli.main import main
from tests.integration.test_mailer_suppression import URL, through_the_api
from tests.support.api import ADMIN_KEY
from tests.support.web_servers import WebServer
from tests.support.webhook_endpoint import HOOK
from tests.support.webhook_queue import WebhookCalls

pytestmark = pytest.mark.usefixtures("aws")


def mailer(*argv: str) -> tuple[int, object, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(
        [*argv, "--url", URL, "--api-key", ADMIN_KEY, "--json"],
        stdout=out,
        stderr=err,
        opener=through_the_api,
    )
    return status, json.loads(out.getvalue()) if out.getvalue() else None, err.getvalue()


def test_a_webhook_is_added_tested_logged_and_removed(
    webhook_calls: WebhookCalls, webhook_endpoint: WebServer
) -> None:
    hook = webhook_endpoint.url(HOOK)
    status, added, err = mailer(
        "webhooks", "add", hook, "--events", "sent,bounced", "--events", "failed"
    )
    assert status == 0, err
    assert isinstance(added, dict)
    assert added["secret"].startswith("whsec_")
    assert added["events"] == ["bounced", "failed", "sent"]

    tested = mailer("webhooks", "test", added["id"])
    log = mailer("webhooks", "deliveries", added["id"], "--limit", "10")
    listed = mailer("webhooks", "list")
    removed = mailer("webhooks", "remove", added["id"])

    assert tested[0] == 0
    assert isinstance(tested[1], dict)
    assert (tested[1]["outcome"], tested[1]["status"]) == ("delivered", 200)
    assert isinstance(log[1], dict)
    assert [attempt["type"] for attempt in log[1]["resource"]] == ["ping"]
    assert isinstance(listed[1], dict)
    assert [webhook["id"] for webhook in listed[1]["resource"]] == [added["id"]]
    assert "secret" not in listed[1]["resource"][0]
    assert removed[:2] == (0, {"id": added["id"]})
    assert mailer("webhooks", "test", added["id"])[0] == 1
