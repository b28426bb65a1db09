"""The AWS calls one mail makes (`bench.aws_calls`), pinned: a change that adds a call to the
send path shows up here, and its cost in docs/deploying.md is then worth a second look."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bench.aws_calls import (
    SCENARIOS,
    SMTP_PASSWORD,
    SMTP_USER,
    Deployment,
    Meter,
    installed,
    repair_tick,
)
from bench.aws_calls import measure as measure_scenario
from bench.aws_prices import Usage, cost_lines
from core.delivery.message_record import OUTBOX_SHARDS
from tests.support.api import ADMIN_KEY
from tests.support.queue_worker import SendQueue
from tests.support.smtp_servers import CaptureServer, Security

COLD, WARM = SCENARIOS[0], SCENARIOS[1]

# A warm container's sync send: the API function reads the key's role and the service
# (GetItem each), checks the suppression list for the recipient under both scopes, "*" and
# the service's (one BatchGetItem of two keys), creates the message record (PutItem), settles
# it (UpdateItem) and counts it in the day's stats (UpdateItem). The warm authorizer answers
# from its cache, and the SMTP password comes from the container's secrets cache.
WARM_SEND = {
    "dynamodb.GetItem": 2,
    "dynamodb.BatchGetItem": 1,
    "dynamodb.PutItem": 1,
    "dynamodb.UpdateItem": 2,
}
# A fresh authorizer container also reads the presented key's record and its role. An
# `<id>.<secret>` key never needs the admin key's secret: only a key without an id is checked
# as the bootstrap key.
COLD_SEND = {**WARM_SEND, "dynamodb.GetItem": 4}


@pytest.fixture
def deployment(
    send_queue: SendQueue,
    smtp_server: Callable[..., CaptureServer],
    configure: Callable[..., None],
) -> Deployment:
    configure(AUTH_CACHE_SECONDS="30")  # as deployed: the authorizer remembers a key
    server = smtp_server(Security.STARTTLS, credentials=(SMTP_USER, SMTP_PASSWORD))
    return Deployment(Meter(), ADMIN_KEY, server.port)


def test_a_sync_send_makes_the_calls_it_documents(deployment: Deployment) -> None:
    with installed(deployment.meter):
        cold = measure_scenario(deployment, COLD)
        warm = measure_scenario(deployment, WARM)
        again = measure_scenario(deployment, WARM)

    assert warm.calls == WARM_SEND
    assert cold.calls == COLD_SEND
    assert again.calls == warm.calls  # stable
    assert warm.invocations == {"AuthorizerFunction": 1, "ApiFunction": 1}
    assert warm.api_requests == 1
    assert (warm.read_units, warm.write_units) == (4, 3)


def test_every_billed_item_is_priced() -> None:
    usage = Usage(messages=2, calls={"sqs.SendMessage": 2}, api_requests=2, log_bytes=1024)

    items = {line.item: line for line in cost_lines(usage)}

    assert set(items) == {"API Gateway (REST)", "SQS", "CloudWatch Logs"}
    assert items["API Gateway (REST)"].per_mail == 1
    assert items["API Gateway (REST)"].usd_per_1000 == pytest.approx(0.0035)


def test_the_repair_tick_reads_each_outbox_shard(deployment: Deployment) -> None:
    with installed(deployment.meter):
        tick = repair_tick(deployment)

    assert tick.calls == {"dynamodb.Query": len(OUTBOX_SHARDS)}
    assert tick.invocations == {"RepairFunction": 1}
