"""The health check through the local stack's gateway, as a load balancer's probe calls it:
no key, a 200 with the status and the version, and nothing more."""

from __future__ import annotations

from handlers.documentation import VERSION
from tests.support.events import load_event
from tests.support.stack_process import RunningStack


def test_the_health_check_answers_without_a_key(stack: RunningStack) -> None:
    answer = stack.request("GET", "/api/v2/health")

    assert answer.status == 200
    assert answer.body == {"status": "ok", "version": VERSION}


def test_the_health_event_replays_over_http(stack: RunningStack) -> None:
    answer = stack.send_event(load_event("health.json"))

    assert answer.status == 200
    assert answer.body["status"] == "ok"
