"""A batch of queued messages through the worker Lambda, over moto, in round trips a message.

The parent (`measure`, called by `bench.run`) puts two `DelayProxy`s in front of smtp-sink,
one delaying d each way and one delaying nothing, and runs `python -m bench.worker_batch` as
a process of its own. That process plays the deployed worker: moto in-process
(`moto.mock_aws`) with the tables of template.yaml (`local_stack.template_tables`), the send
queue and the staging bucket; two services made through `core.runtime.service_repository()`,
one behind each proxy; the jobs queued by `core.runtime.mailer().accept(...)` as the API
queues them (the bootstrap principal); and one SQS event of all of them handed to
`handlers.worker.lambda_handler` with a Lambda context. Only that call is timed.

The worker spends most of its time in moto's CPU (every record is read, claimed and settled
in DynamoDB), which has nothing to do with the network. So the same batch runs against the
undelayed proxy (wall(0)), the delayed one (wall(d)) and the undelayed one again; what the
delay added is what the round trips cost, and

    RTT a message = (wall(d) - mean of the two wall(0)) / (2d) / messages

The naive baseline is measured the same way: one fresh smtplib session a message (connect,
EHLO, MAIL, RCPT x5, DATA, QUIT in lockstep), at d and at 0, the issue's "≈ 11 a message".

Two batches are measured: `MESSAGES` on one connection (`max_connections: 1`, each message's
envelope behind the previous dot: about one round trip a message), and `LANES_MESSAGES` with
the services' default `max_connections`, the worker's lanes sending side by side.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import environment
from bench.delay_proxy import DelayProxy

REPO_ROOT = Path(__file__).resolve().parent.parent
MESSAGES = 50
LANES_MESSAGES = 500
WARM_UP_MESSAGES = 3
RESULT_MARKER = "RESULT "
DIRECT_SERVICE = "batch-direct"
DELAYED_SERVICE = "batch-delayed"
QUEUE_NAME = "bench-send"
SUBPROCESS_TIMEOUT_SECONDS = 1200
VISIBILITY_SECONDS = 720


@dataclass
class BatchResult:
    """What the worker process and the naive baseline measured, in seconds."""

    delay: float
    messages: int
    wall_direct: list[float]  # the undelayed batches, before and after the delayed one
    wall_delayed: float
    cpu_direct: list[float]  # the worker process's CPU seconds for each batch
    cpu_delayed: float
    statuses: dict[str, int]  # of the delayed batch's messages, once it returned
    connections: int  # the delayed batch opened through its proxy
    naive_sessions: int
    naive_direct: float
    naive_delayed: float
    failures: list[str] = field(default_factory=list)

    @property
    def rtt_per_message(self) -> float:
        direct = sum(self.wall_direct) / len(self.wall_direct)
        return (self.wall_delayed - direct) / (2 * self.delay) / self.messages

    @property
    def naive_rtt_per_message(self) -> float:
        return (self.naive_delayed - self.naive_direct) / (2 * self.delay) / self.naive_sessions


def measure(
    sink_port: int,
    ca_file: str,
    delay: float,
    naive_sessions: int,
    *,
    messages: int = MESSAGES,
    max_connections: int = 1,
) -> BatchResult:
    """The worker's batch of `messages`, its services sending on up to `max_connections` at
    once, and the naive baseline (unless `naive_sessions` is 0), through proxies to smtp-sink."""
    with (
        DelayProxy(("127.0.0.1", sink_port), delay=0) as direct,
        DelayProxy(("127.0.0.1", sink_port), delay=delay) as delayed,
    ):
        done = subprocess.run(  # noqa: S603  # this interpreter, our module
            [
                sys.executable,
                "-m",
                "bench.worker_batch",
                str(direct.port),
                str(delayed.port),
                str(messages),
                str(max_connections),
            ],
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_SECONDS,
            check=False,
            cwd=REPO_ROOT,
        )
        found = _result_line(done.stdout)
        if done.returncode != 0 or found is None:
            raise RuntimeError(f"the worker batch failed: {done.stderr[-1500:]}")
        # Every connection the delayed proxy saw came from the delayed batch (nothing else
        # goes through it).
        connections = delayed.connections
        naive_direct, naive_delayed = (
            _naive(direct.port, delayed.port, ca_file, naive_sessions)
            if naive_sessions
            else (0.0, 0.0)
        )
    return BatchResult(
        delay=delay,
        messages=found["messages"],
        wall_direct=found["wall_direct"],
        wall_delayed=found["wall_delayed"],
        cpu_direct=found["cpu_direct"],
        cpu_delayed=found["cpu_delayed"],
        statuses=found["statuses"],
        connections=connections,
        naive_sessions=naive_sessions,
        naive_direct=naive_direct,
        naive_delayed=naive_delayed,
        failures=found["failures"],
    )


def _naive(direct_port: int, delayed_port: int, ca_file: str, sessions: int) -> tuple[float, float]:
    """Seconds for `sessions` fresh smtplib sessions, one message each, undelayed and delayed."""
    from bench.product import Naive, Server

    walls = []
    for port in (direct_port, delayed_port):
        naive = Naive(Server(port), ca_file)
        walls.append(sum(naive.cold() for _ in range(sessions)))
    return walls[0], walls[1]


def _result_line(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            found: dict[str, Any] = json.loads(line.removeprefix(RESULT_MARKER))
            return found
    return None


# --- the worker's own process ------------------------------------------------------------------


class _Worker:
    """The worker's AWS in moto, its services, and a batch run through its handler."""

    def __init__(self, direct_port: int, delayed_port: int, max_connections: int) -> None:
        import boto3

        from local_stack.environment import table_setting
        from local_stack.template_tables import create_tables, table_schemas

        # Every table of the template, under the name the bench's settings give it.
        names = {
            logical_id: os.environ.setdefault(
                table_setting(logical_id), f"bench-{logical_id.lower()}"
            )
            for logical_id in table_schemas()
        }
        create_tables(boto3.client("dynamodb"), names)
        self.sqs = boto3.client("sqs")
        # As deployed (template.yaml's SendQueue): a batch that takes a while to receive and
        # send does not see its first messages handed out again meanwhile.
        self.queue_url = self.sqs.create_queue(
            QueueName=QUEUE_NAME, Attributes={"VisibilityTimeout": str(VISIBILITY_SECONDS)}
        )["QueueUrl"]
        self.queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        bucket = os.environ["STAGING_BUCKET"]
        boto3.client("s3").create_bucket(Bucket=bucket)
        os.environ["SEND_QUEUE_URL"] = self.queue_url

        from core import runtime
        from core.services.model import ServiceInput

        runtime.reset()  # the settings above, read afresh
        for name, port in ((DIRECT_SERVICE, direct_port), (DELAYED_SERVICE, delayed_port)):
            runtime.service_repository().create(
                ServiceInput.model_validate(
                    {
                        "name": name,
                        "config": {
                            "host": "127.0.0.1",
                            "port": port,
                            "encryption": "none",
                            "from_email": "bench@example.com",
                            "max_connections": max_connections,
                        },
                    }
                )
            )

    def queue(self, service: str, count: int) -> list[str]:
        """`count` messages accepted for `service` as the API accepts them; their record ids."""
        from bench.product import BODY, RECIPIENTS
        from core import runtime
        from core.access.authentication import Principal
        from core.send_request import parse_send_request

        request = parse_send_request(
            {"to": [{"email": r} for r in RECIPIENTS], "subject": "bench", "body_text": BODY}
        )
        return [
            runtime.mailer().accept(Principal.bootstrap(), service, request).id
            for _ in range(count)
        ]

    def run(self, service: str, count: int) -> tuple[float, float, list[str]]:
        """Queue `count` messages, receive them, and time one worker invocation on all of
        them: (wall seconds, CPU seconds, record ids)."""
        from handlers import worker
        from local_stack.apigateway import LocalLambdaContext
        from local_stack.functions import template_functions
        from local_stack.worker_poller import sqs_event, to_delete

        ids = self.queue(service, count)
        received: list[Any] = []
        while len(received) < count:
            answer = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received += answer.get("Messages") or []
        event = sqs_event(received, self.queue_arn)
        # The deployed worker's timeout: an invocation that runs short of it hands the rest on.
        timeout = template_functions()["WorkerFunction"].timeout_seconds
        context = LocalLambdaContext(function_name="WorkerFunction", timeout_seconds=timeout)
        cpu_started, started = time.process_time(), time.perf_counter()
        response = worker.lambda_handler(event, context.typed())
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        for handle in to_delete(received, response, partial=True):
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=handle)
        return wall, cpu, ids

    def statuses(self, ids: list[str]) -> dict[str, int]:
        from core import runtime

        counted: dict[str, int] = {}
        for record_id in ids:
            status = runtime.message_repository().get(record_id).status.value
            counted[status] = counted.get(status, 0) + 1
        return counted


def main(argv: list[str]) -> None:
    direct_port, delayed_port, count, max_connections = (int(value) for value in argv)
    environment.configure(os.environ.get("SMTP_CA_FILE", ""))
    environment.use_moto_credentials()
    from moto import mock_aws

    with mock_aws():
        worker = _Worker(direct_port, delayed_port, max_connections)
        failures: list[str] = []
        # First use of every code path (imports, botocore's models) outside the timed runs.
        worker.run(DIRECT_SERVICE, WARM_UP_MESSAGES)
        wall_a, cpu_a, ids_a = worker.run(DIRECT_SERVICE, count)
        wall_d, cpu_d, ids_d = worker.run(DELAYED_SERVICE, count)
        wall_b, cpu_b, ids_b = worker.run(DIRECT_SERVICE, count)
        statuses = worker.statuses(ids_d)
        for label, ids in (("undelayed", ids_a + ids_b), ("delayed", ids_d)):
            other = {s: n for s, n in worker.statuses(ids).items() if s != "sent"}
            if other:
                failures.append(f"{label} batches: not sent {other}")
    result = {
        "messages": count,
        "wall_direct": [wall_a, wall_b],
        "wall_delayed": wall_d,
        "cpu_direct": [cpu_a, cpu_b],
        "cpu_delayed": cpu_d,
        "statuses": statuses,
        "failures": failures,
    }
    print(RESULT_MARKER + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
