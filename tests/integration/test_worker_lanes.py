"""A queued batch sent over several connections at once (`max_connections` lanes), through
the API, moto's SQS and the worker, to a real SMTP server on loopback: every message arrives
once, never over more connections at a time than the service allows, each SQS message gets
its own job's outcome, and the provider's pace holds across the lanes."""

from __future__ import annotations

import bisect
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest

from core.delivery.job import Job
from tests.support.api import call_api, create_service
from tests.support.queue_worker import SendQueue, WorkerRun
from tests.support.smtp_servers import LOOPBACK, CaptureServer, Replies

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

LANES = 3
_numbers = itertools.count()  # each message's subject its own
LATER = "later@example.com"  # the server defers every message to it
SPAM = "spam@example.com"  # and refuses every one to it


@pytest.fixture(autouse=True)
def _room_for_a_busy_machine(send_queue: SendQueue, configure: Callable[..., None]) -> None:
    # The lanes' threads share one interpreter with moto's CPU: on a loaded machine an
    # exchange can outlast the tests' usual 3 s SMTP budget, which would defer its message.
    configure(SMTP_TIMEOUT_SECONDS="10")


def _service(server: CaptureServer, *, name: str = "email", **config: object) -> None:
    create_service(
        {
            "host": LOOPBACK,
            "port": server.port,
            "encryption": "none",
            "from_email": "a@example.com",
            "max_connections": LANES,
            **config,
        },
        name=name,
    )


def _queue(count: int, *, to: str = "jane@example.com", service: str = "email") -> dict[str, str]:
    """`count` messages to `to` accepted for the queue: record id -> subject."""
    ids = {}
    for _ in range(count):
        subject = f"#{next(_numbers)} to {to}"
        body = {"to": to, "subject": subject, "body_text": "Hi"}
        answer = call_api("POST", f"/api/v2/{service}", body, query="async=true")
        assert answer.status == 202, answer.body
        ids[str(answer.body["id"])] = subject
    return ids


def _status(record_id: str, service: str = "email") -> str:
    answer = call_api("GET", f"/api/v2/{service}/messages/{record_id}")
    assert answer.status == 200, answer.body
    return str(answer.body["status"])


def _subjects(server: CaptureServer) -> list[str]:
    return [str(message.parsed()["Subject"]) for message in server.messages]


def test_a_batch_goes_out_over_its_lanes_each_message_once(
    smtp_server: Callable[..., CaptureServer], send_queue: SendQueue
) -> None:
    server = smtp_server()
    _service(server)
    ids = _queue(10)

    run = send_queue.run_worker()

    assert (len(run.received), run.failed) == (10, set())
    assert sorted(_subjects(server)) == sorted(ids.values())  # each once
    assert {_status(record_id) for record_id in ids} == {"sent"}
    # Side by side (more than one at once), never more than the service allows.
    assert 1 < server.most_open_at_once <= LANES
    assert server.sessions <= LANES


def _closed_soon(server: CaptureServer) -> int:
    """Connections still open once the server has had a moment to see closes arrive."""
    give_up = time.monotonic() + 5
    while server.open_now and time.monotonic() < give_up:
        time.sleep(0.05)
    return server.open_now


def test_a_batchs_connections_close_with_it_and_the_next_batch_gets_its_slots_again(
    smtp_server: Callable[..., CaptureServer], send_queue: SendQueue
) -> None:
    # A worker frozen between invocations must hold no connection its slot does not cover:
    # its lanes' connections close when the batch ends, and their slots are free again.
    server = smtp_server()
    _service(server)
    _queue(10)
    send_queue.run_worker()
    assert _closed_soon(server) == 0

    _queue(10)
    assert send_queue.run_worker().failed == set()

    assert len(server.messages) == 20
    assert server.sessions == 2 * LANES  # each batch's lanes, on connections of their own
    assert server.most_open_at_once <= LANES
    assert _closed_soon(server) == 0


def test_each_sqs_message_gets_its_own_jobs_outcome(
    smtp_server: Callable[..., CaptureServer], send_queue: SendQueue
) -> None:
    # One message of the batch is deferred (451), one refused for good (554): whichever lane
    # meets them, the batch item failure must name the deferred job's SQS message, no other.
    server = smtp_server(
        replies=Replies(rcpt={LATER: "451 4.3.0 Try later", SPAM: "554 5.7.1 Spam"})
    )
    _service(server)
    ids = _queue(7)
    later, spam = _queue(1, to=LATER), _queue(1, to=SPAM)

    run = send_queue.run_worker(time_passes=False)

    assert [_status(record_id) for record_id in later | spam] == ["deferred", "failed"]
    failed_jobs = {
        Job.model_validate_json(message["Body"]).id
        for message in run.received
        if message["MessageId"] in run.failed
    }
    assert failed_jobs == set(later)
    assert {_status(record_id) for record_id in ids} == {"sent"}
    assert sorted(_subjects(server)) == sorted(ids.values())  # each once
    # The deferred one is tried again until its attempts run out (MAX_ATTEMPTS 3), alone.
    give_up = time.monotonic() + 20
    while _status(*later) == "deferred" and time.monotonic() < give_up:
        if not send_queue.run_worker().received:
            time.sleep(0.2)
    assert _status(*later) == "failed"
    later_record = call_api("GET", f"/api/v2/email/messages/{next(iter(later))}").body
    assert (later_record["attempts"], later_record["reason"]) == (3, "retries_exhausted")
    assert len(server.messages) == len(ids)


def _run_workers_side_by_side(send_queue: SendQueue, batches: int) -> list[WorkerRun]:
    """`batches` worker invocations at once, each on a batch of its own (as Lambda runs up to
    WorkerMaxConcurrency of them)."""
    received = [send_queue.receive() for _ in range(batches)]
    start = threading.Barrier(batches)

    def invoke(batch: list[MessageTypeDef]) -> WorkerRun:
        start.wait()
        return send_queue.run_worker(batch)

    with ThreadPoolExecutor(batches) as workers:
        return list(workers.map(invoke, received))


def test_workers_side_by_side_share_the_services_connection_limit(
    smtp_server: Callable[..., CaptureServer], send_queue: SendQueue
) -> None:
    """`max_connections` is the service's, not each worker's: two workers with a batch each
    never hold more than 2 connections to it between them; the one that finds the slots taken
    sends with fewer lanes, or waits for the other's batch to end and takes them then (its
    invocation has time): every message goes once, none comes back for later."""
    server = smtp_server()
    _service(server, max_connections=2)
    ids = _queue(20)

    runs = _run_workers_side_by_side(send_queue, 2)

    assert sum(len(run.received) for run in runs) == 20
    assert [run.failed for run in runs] == [set(), set()]
    assert sorted(_subjects(server)) == sorted(ids.values())  # each once
    assert {_status(record_id) for record_id in ids} == {"sent"}
    assert server.most_open_at_once <= 2
    # Waiting for a slot is not an attempt: every message went at its first.
    attempts = {call_api("GET", f"/api/v2/email/messages/{i}").body["attempts"] for i in ids}
    assert attempts == {1}


def _most_in_a_second(arrivals: list[float]) -> int:
    """The most arrivals in any closed one-second window (each window starting at one)."""
    times = sorted(arrivals)
    return max(bisect.bisect_right(times, t + 1.0) - i for i, t in enumerate(times))


def test_a_paced_service_keeps_its_pace_on_one_lane(
    smtp_server: Callable[..., CaptureServer], send_queue: SendQueue
) -> None:
    """A paced service keeps to one lane whatever its max_connections, its pace taken as each
    message is handed over (just before its final dot): 30 messages at 5 a second never put 6
    into one second at the server, and take no longer than the same 30 of a service with one
    connection, queued between them (so that both meet the same worker runs)."""
    lanes, one_lane = smtp_server(), smtp_server()
    _service(lanes, max_send_rate=5, max_connections=LANES)
    _service(one_lane, name="single", max_send_rate=5, max_connections=1)
    ids: dict[str, str] = {}
    single_ids: dict[str, str] = {}
    for _ in range(30):
        ids |= _queue(1)
        single_ids |= _queue(1, service="single")

    give_up = time.monotonic() + 90
    while len(lanes.messages) + len(one_lane.messages) < 60 and time.monotonic() < give_up:
        if not send_queue.run_worker().received:
            time.sleep(0.1)

    assert {_status(record_id) for record_id in ids} == {"sent"}
    assert {_status(record_id, "single") for record_id in single_ids} == {"sent"}
    assert sorted(_subjects(lanes)) == sorted(ids.values())
    assert sorted(_subjects(one_lane)) == sorted(single_ids.values())
    arrivals = [message.arrived_at for message in lanes.messages]
    # Never over the pace in any sliding second at the server (a busy machine may not reach
    # it: a full CI run saw 3).
    assert _most_in_a_second(arrivals) <= 5
    assert lanes.most_open_at_once == 1  # one lane, pace before speed
    single = [message.arrived_at for message in one_lane.messages]
    assert max(arrivals) - min(arrivals) <= max(single) - min(single) + 0.5
    # Waiting for the pace is not an attempt.
    attempts = {call_api("GET", f"/api/v2/email/messages/{i}").body["attempts"] for i in ids}
    assert attempts == {1}
