"""`python -m bench.aws_calls`: the AWS calls one mail makes, and what they cost per 1,000.

The deployed functions run here, in-process, as AWS would run them: API Gateway's steps (the
route, the Lambda authorizer, the API function) from `local_stack.apigateway`, the worker and
the SES events function fed SQS events as their event source mappings would, moto's
`mock_aws` behind every AWS call, and a real SMTP server on loopback (STARTTLS and AUTH, the
password in Secrets Manager as a deployed service keeps it). Every botocore call is counted by
service and operation through a `before-parameter-build` hook on the session's event system, every
function invocation by function, with its in-process wall time (an estimate of its billed
duration: moto answers in-process, where AWS answers over the network), and every byte the
functions write to standard output, which is what CloudWatch Logs ingests (log lines and EMF
metric lines alike), at the template's default log level, INFO.

Each scenario runs once untimed (a warm container: clients built, secrets and services
cached), then once counted. Divided by the mails it sent, a scenario's counts times
`bench.aws_prices` give its cost per 1,000 mails, beside SES alone and the hosted peers.
The calls the event source mappings make (ReceiveMessage, DeleteMessageBatch) are made here by
the harness and counted too: the account pays for them.

Counts, not timings, are the point: they are exact and stable, and a change that adds a call
shows up (tests/integration/test_bench_aws_calls.py pins the sync send's).
"""

from __future__ import annotations

import io
import json
import math
import os
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bench import aws_prices, environment
from bench.aws_prices import HOSTED_PEERS, HOSTED_PEERS_AS_OF, PRICES_AS_OF, SES_PER_1000, Usage

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import DeleteMessageBatchRequestEntryTypeDef

SERVICE = "bench"
SES_SERVICE = "bench-ses"
SENDER = "bench@example.com"
SMTP_USER, SMTP_PASSWORD = "bench-user", "bench-password-0123"
ROLE = "bench-sender"
TEMPLATE = "bench_order_shipped"
RECIPIENT = "reader@example.net"
BATCH_QUEUED_ITEMS = 500  # the most a batch may have: always queued
BATCH_NOW_ITEMS = 10  # BATCH_SEND_NOW_MAX's default: a batch this size is sent at once
WORKER_BATCH = 100  # the template's BatchSize for the worker's event source
RECEIVE_MAX = 10  # what one ReceiveMessage can return
QUEUE_NAME = "bench-aws-calls-send"
SES_EVENTS_QUEUE = "bench-aws-calls-ses-events"
ADMIN_KEY_SECRET = "email-api/admin-key"  # noqa: S105  # the secret's name
BODY = {
    "subject": "Your order A-1001 has shipped",
    "body_text": "Hello John,\n\nyour order A-1001 is on its way.\n",
}

# DynamoDB's request units, as billed: a read of up to 4 KB (strongly consistent) is one
# unit, a write of up to 1 KB one unit, a transaction's item twice that. Items are measured
# where the request carries them (PutItem); an update or a read is taken as one unit, which
# is right for the keys, roles and counters (well under 1 KB) and low for a message record
# while it holds its job (a few KB): see docs/deploying.md.
_READS = frozenset({"GetItem", "Query", "Scan"})
_WRITES = frozenset({"UpdateItem", "DeleteItem"})


def _item_kilobytes(item: Any) -> int:
    return max(1, math.ceil(len(json.dumps(item, default=str)) / 1024))


def _request_units(operation: str, params: dict[str, Any]) -> tuple[float, float]:
    """(read units, write units) of one DynamoDB call."""
    if operation in _READS:
        return 1, 0
    if operation in _WRITES:
        return 0, 1
    if operation == "PutItem":
        return 0, _item_kilobytes(params.get("Item"))
    if operation == "BatchGetItem":
        return sum(len(t["Keys"]) for t in params.get("RequestItems", {}).values()), 0
    if operation == "BatchWriteItem":
        return 0, sum(len(r) for r in params.get("RequestItems", {}).values())
    if operation == "TransactWriteItems":
        return 0, 2 * len(params.get("TransactItems", []))
    if operation == "TransactGetItems":
        return 2 * len(params.get("TransactItems", [])), 0
    return 0, 0


class LogMeter(io.TextIOBase):
    """Standard output while counting: the bytes written to it, kept from the terminal."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, text: str) -> int:
        self.bytes += len(text.encode())
        return len(text)

    def writable(self) -> bool:
        return True


@dataclass
class Meter:
    """Every AWS call, invocation and log byte, while `counting`."""

    calls: Counter[str] = field(default_factory=Counter)
    read_units: float = 0
    write_units: float = 0
    invocations: Counter[str] = field(default_factory=Counter)
    lambda_gb_seconds: float = 0
    api_requests: int = 0
    active: bool = False
    log: LogMeter = field(default_factory=LogMeter)

    def on_call(self, **event: Any) -> None:
        """botocore's `before-parameter-build` event: one API call, its parameters as given."""
        if not self.active:
            return
        model, params = event["model"], event["params"]
        service = model.service_model.endpoint_prefix
        self.calls[f"{service}.{model.name}"] += 1
        if service == "dynamodb":
            reads, writes = _request_units(model.name, params)
            self.read_units += reads
            self.write_units += writes

    def invoked(self, function: str, memory_mb: int, seconds: float) -> None:
        if self.active:
            self.invocations[function] += 1
            # Lambda bills by the millisecond, rounded up.
            self.lambda_gb_seconds += memory_mb / 1024 * math.ceil(seconds * 1000) / 1000

    @contextmanager
    def counting(self, messages: int, sns_publishes: int = 0) -> Iterator[list[Usage]]:
        """Count what runs inside; the block's usage is the one item of the list yielded."""
        self.calls.clear()
        self.invocations.clear()
        self.read_units = self.write_units = self.lambda_gb_seconds = 0
        self.api_requests = 0
        logged = self.log.bytes
        found: list[Usage] = []
        self.active = True
        try:
            yield found
        finally:
            self.active = False
        found.append(
            Usage(
                messages=messages,
                calls=dict(self.calls),
                read_units=self.read_units,
                write_units=self.write_units,
                invocations=dict(self.invocations),
                lambda_gb_seconds=self.lambda_gb_seconds,
                api_requests=self.api_requests,
                log_bytes=self.log.bytes - logged,
                sns_publishes=sns_publishes,
            )
        )


@contextmanager
def installed(meter: Meter) -> Iterator[None]:
    """Count every call of every client made inside (boto3's default session copies its
    handlers into each client it creates), and every byte written to standard output."""
    import boto3

    from core import runtime

    boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    assert session is not None
    session.events.register("before-parameter-build", meter.on_call)
    runtime.reset()  # no client made before the hook
    # Powertools' loggers write to sys.stdout as they find it when made: made inside.
    before, sys.stdout = sys.stdout, meter.log
    try:
        yield
    finally:
        sys.stdout = before
        session.events.unregister("before-parameter-build", meter.on_call)
        runtime.reset()


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any


class Deployment:
    """The stack's functions, called as API Gateway and the event source mappings call them;
    inside `mock_aws`, with the tables, the admin key's secret and the send queue in place."""

    def __init__(self, meter: Meter, admin_key: str, smtp_port: int) -> None:
        import boto3

        from local_stack.functions import template_api, template_functions

        self.meter = meter
        self.admin_key = admin_key
        self.functions = template_functions()
        self.rest_api = template_api()
        self.sqs = boto3.client("sqs")
        self.send_queue = os.environ["SEND_QUEUE_URL"]
        self.events_queue = self.sqs.create_queue(QueueName=SES_EVENTS_QUEUE)["QueueUrl"]
        self.queue_arns = {
            url: self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            for url in (self.send_queue, self.events_queue)
        }
        boto3.client("sesv2").create_email_identity(EmailIdentity=SENDER)
        self._admin("POST", "/api/v2/system/service", self._smtp_service(smtp_port))
        ses = {
            "name": SES_SERVICE,
            "type": "ses",
            "config": {"region": "us-east-1", "from_email": SENDER},
        }
        self._admin("POST", "/api/v2/system/service", ses)
        role = {"name": ROLE, "services": [SERVICE, SES_SERVICE], "senders": [SENDER]}
        self._admin("POST", "/api/v2/system/role", role)
        self.key = self._admin("POST", "/api/v2/system/api_key", {"label": ROLE, "role": ROLE})[
            "key"
        ]
        template = {"name": TEMPLATE, "subject": "Your order {order_id} has shipped"}
        template["body_text"] = "Hello {first_name}, your order {order_id} is on its way."
        self._admin("POST", "/api/v2/system/email_template", template)

    @staticmethod
    def _smtp_service(port: int) -> dict[str, Any]:
        config = {
            "host": "127.0.0.1",
            "port": port,
            "encryption": "tls",
            "username": SMTP_USER,
            "password": SMTP_PASSWORD,
            "from_email": SENDER,
        }
        return {"name": SERVICE, "config": config}

    # --- the entry points --------------------------------------------------------------------

    def invoke(self, function: str, event: Any) -> Any:
        """One invocation of the template's `function`, timed."""
        deployed = self.functions[function]
        started = time.perf_counter()
        try:
            return deployed.invoke(event)
        finally:
            self.meter.invoked(function, deployed.memory_mb, time.perf_counter() - started)

    def request(self, method: str, path: str, body: Any = None, *, query: str = "") -> Answer:
        """One request through API Gateway: the route, the authorizer, the API function."""
        return self._request(method, path, body, query=query, key=self.key)

    def _admin(self, method: str, path: str, body: Any) -> Any:
        answer = self._request(method, path, body, query="", key=self.admin_key)
        if answer.status >= 300:
            raise RuntimeError(f"{method} {path}: {answer.status} {answer.body}")
        return answer.body

    def _request(self, method: str, path: str, body: Any, *, query: str, key: str) -> Answer:
        from local_stack.apigateway import match_route, rest_api_event, through_authorizer

        self.meter.api_requests += self.meter.active
        route = match_route(self.rest_api.routes, method, path)
        headers = {"Content-Type": "application/json", "X-DreamFactory-API-Key": key}
        event = rest_api_event(
            method, path, headers=headers, query=query, body=json.dumps(body), route=route
        )
        authorizer = self.rest_api.authorizer or ""
        answer = through_authorizer(
            event,
            lambda request: self.invoke(authorizer, request),
            lambda allowed: self.invoke(self.rest_api.function, allowed),
            self.rest_api.gateway_responses,
        )
        text = answer.get("body") or ""
        return Answer(answer["statusCode"], json.loads(text) if text else None)

    def drain(self, queue_url: str, function: str, batch_size: int) -> int:
        """What an event source mapping does with what is waiting: receive up to `batch_size`
        messages, invoke `function` on them, delete those it did not report as failed; again
        while batches come full. Returns the messages handed over. (A mapping also polls an
        empty queue, a few calls a minute whatever the mail: a fixed cost, not counted.)"""
        from local_stack.worker_poller import sqs_event, to_delete

        queue_arn = self.queue_arns[queue_url]
        handed = 0
        while True:
            batch: list[Any] = []
            while len(batch) < batch_size:
                asked = min(RECEIVE_MAX, batch_size - len(batch))
                received = self.sqs.receive_message(
                    QueueUrl=queue_url,
                    MaxNumberOfMessages=asked,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
                batch += received
                if len(received) < asked:
                    break
            if batch:
                handed += len(batch)
                answer = self.invoke(function, sqs_event(batch, queue_arn))
                self._delete(queue_url, to_delete(batch, answer, partial=True))
            if len(batch) < batch_size:
                return handed

    def _delete(self, queue_url: str, handles: list[str]) -> None:
        for start in range(0, len(handles), RECEIVE_MAX):
            entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
                {"Id": str(n), "ReceiptHandle": handle}
                for n, handle in enumerate(handles[start : start + RECEIVE_MAX])
            ]
            self.sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)

    def forget_keys(self) -> None:
        """A new authorizer container: no key answer remembered."""
        from core import runtime

        runtime.authenticator.cache_clear()


# --- the scenarios -----------------------------------------------------------------------------


def _send_body() -> dict[str, Any]:
    return {"to": [{"email": RECIPIENT}], "from_email": SENDER, **BODY}


def _sent(answer: Answer, *statuses: int) -> Answer:
    if answer.status not in statuses:
        raise RuntimeError(f"the send answered {answer.status}: {answer.body}")
    return answer


def sync_send(deployment: Deployment) -> None:
    _sent(deployment.request("POST", f"/api/v2/{SERVICE}", _send_body()), 200)


def queued_send(deployment: Deployment) -> None:
    _sent(deployment.request("POST", f"/api/v2/{SERVICE}", _send_body(), query="async=true"), 202)
    deployment.drain(deployment.send_queue, "WorkerFunction", WORKER_BATCH)


def template_send(deployment: Deployment) -> None:
    body = {"template": TEMPLATE, "to": RECIPIENT, "first_name": "John", "order_id": "A-1001"}
    _sent(deployment.request("POST", f"/api/v2/{SERVICE}", body), 200)


def _batch(items: int) -> dict[str, Any]:
    recipients = [
        {"email": f"reader{n}@example.net", "template_data": {"n": n}} for n in range(items)
    ]
    return {"message": {"from_email": SENDER, **BODY}, "recipients": recipients}


def batch_now(deployment: Deployment) -> None:
    body = _batch(BATCH_NOW_ITEMS)
    _sent(deployment.request("POST", f"/api/v2/{SERVICE}/batch", body), 200)


def batch_queued(deployment: Deployment) -> None:
    body = _batch(BATCH_QUEUED_ITEMS)
    _sent(deployment.request("POST", f"/api/v2/{SERVICE}/batch", body), 200, 202)
    deployment.drain(deployment.send_queue, "WorkerFunction", WORKER_BATCH)


@dataclass(frozen=True)
class Scenario:
    name: str
    run: Callable[[Deployment], None]
    messages: int
    cold_authorizer: bool = False
    sns_publishes: int = 0


SCENARIOS = (
    Scenario("sync send, authorizer cache cold", sync_send, 1, cold_authorizer=True),
    Scenario("sync send, authorizer cache warm", sync_send, 1),
    Scenario("queued send (API + worker)", queued_send, 1),
    Scenario("template send", template_send, 1),
    Scenario(f"batch of {BATCH_NOW_ITEMS}, sent now (per item)", batch_now, BATCH_NOW_ITEMS),
    Scenario(f"batch of {BATCH_QUEUED_ITEMS}, queued (per item)", batch_queued, BATCH_QUEUED_ITEMS),
)


def measure(deployment: Deployment, scenario: Scenario) -> Usage:
    """`scenario` once to warm the containers, then once counted."""
    scenario.run(deployment)
    if scenario.cold_authorizer:
        deployment.forget_keys()
    with deployment.meter.counting(scenario.messages, scenario.sns_publishes) as found:
        scenario.run(deployment)
    return found[0]


def ses_event(deployment: Deployment) -> Usage:
    """A Delivery event for a mail SES sent, from SNS through the events queue to the events
    function: SES's publish (one SNS publish, delivery to SQS is free) and what follows."""
    from core import runtime

    def one() -> None:
        sent = _sent(deployment.request("POST", f"/api/v2/{SES_SERVICE}", _send_body()), 200)
        record = runtime.message_repository().get(sent.body["id"])
        deployment.sqs.send_message(
            QueueUrl=deployment.events_queue, MessageBody=json.dumps(_sns(record))
        )

    one()
    deployment.drain(deployment.events_queue, "SesEventsFunction", RECEIVE_MAX)
    one()
    with deployment.meter.counting(1, sns_publishes=1) as found:
        deployment.drain(deployment.events_queue, "SesEventsFunction", RECEIVE_MAX)
    return found[0]


def _sns(record: Any) -> dict[str, Any]:
    """SNS's envelope around SES's Delivery event for `record`'s mail."""
    at = "2026-12-04T10:00:05.000Z"
    event = {
        "eventType": "Delivery",
        "mail": {
            "timestamp": at,
            "source": SENDER,
            "sendingAccountId": "123456789012",
            "messageId": record.provider_message_id,
            "destination": [RECIPIENT],
            "headersTruncated": False,
            "tags": {},
        },
        "delivery": {
            "timestamp": at,
            "processingTimeMillis": 500,
            "recipients": [RECIPIENT],
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
        },
    }
    return {
        "Type": "Notification",
        "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-events",
        "Message": json.dumps(event),
        "Timestamp": at,
    }


REPAIR_TICKS_A_MONTH = 60 * 24 * 30  # the template's schedule: rate(1 minute)
REPAIR_SCHEDULE_EVENT = Path(__file__).resolve().parent.parent / "events" / "repair-schedule.json"


def repair_tick(deployment: Deployment) -> Usage:
    """One run of the repair function on an outbox with nothing lost: what it costs every
    minute whatever the mail (a fixed cost; `messages` is 1 so the usage reads per tick)."""
    event = json.loads(REPAIR_SCHEDULE_EVENT.read_text())
    deployment.invoke("RepairFunction", event)
    with deployment.meter.counting(1) as found:
        deployment.invoke("RepairFunction", event)
    return found[0]


def run_all(deployment: Deployment) -> tuple[dict[str, Usage], Usage]:
    """Each scenario's usage per mail, and the repair function's per tick."""
    found = {scenario.name: measure(deployment, scenario) for scenario in SCENARIOS}
    found["SES event applied (per event)"] = ses_event(deployment)
    return found, repair_tick(deployment)


# --- the tables --------------------------------------------------------------------------------


def calls_table(found: dict[str, Usage]) -> str:
    """Calls per mail by service.operation (and invocations by function), one column a
    scenario."""
    names = list(found)
    rows: dict[str, list[float]] = {}
    for column, usage in enumerate(found.values()):
        counted = {
            **{f"Lambda {f}": n for f, n in (usage.invocations or {}).items()},
            **({"API Gateway request": usage.api_requests} if usage.api_requests else {}),
            **usage.calls,
        }
        for name, count in counted.items():
            rows.setdefault(name, [0.0] * len(names))[column] = count / usage.messages
    header = ["per mail", *[f"({n + 1})" for n in range(len(names))]]
    lines = [header] + [
        [name, *(_count(value) for value in values)] for name, values in sorted(rows.items())
    ]
    legend = [f"({n + 1}) {name}" for n, name in enumerate(names)]
    return "\n".join([*legend, "", _columns(lines)])


def cost_table(found: dict[str, Usage]) -> str:
    """Dollars per 1,000 mails by billed item, one column a scenario, with the totals."""
    names = list(found)
    rows: dict[str, list[float]] = {}
    for column, usage in enumerate(found.values()):
        for line in aws_prices.cost_lines(usage):
            rows.setdefault(line.item, [0.0] * len(names))[column] = line.usd_per_1000
    totals = [sum(values[n] for values in rows.values()) for n in range(len(names))]
    header = ["$ per 1,000 mails", *[f"({n + 1})" for n in range(len(names))]]
    lines = [header] + [[item, *(_usd(v) for v in values)] for item, values in rows.items()]
    lines.append(["this stack, total", *(_usd(v) for v in totals)])
    lines.append(["  + SES to send", *(_usd(v + SES_PER_1000.usd) for v in totals)])
    return _columns(lines)


def peers_table() -> str:
    lines = [["beside it", "$ per 1,000", "at"]]
    lines.append(["SES alone", _usd(SES_PER_1000.usd), "any volume"])
    for peer in HOSTED_PEERS:
        lines.append(
            [f"{peer.name} {peer.plan}", _usd(peer.per_1000), f"{peer.mails_per_month:,}/month"]
        )
    return _columns(lines) + f"\n(hosted peers: {HOSTED_PEERS_AS_OF})"


def _count(value: float) -> str:
    return "" if not value else f"{value:.3g}"


def _usd(value: float) -> str:
    return f"{value:.4f}"


def _columns(lines: list[list[str]]) -> str:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in lines
    )


def repair_line(tick: Usage) -> str:
    """The repair function's calls per tick and its cost a month."""
    calls = ", ".join(f"{name} {count}" for name, count in sorted(tick.calls.items()))
    per_tick = sum(line.usd_per_1000 for line in aws_prices.cost_lines(tick)) / 1_000
    return (
        f"Fixed: the repair function every minute, per tick: {calls or 'no call'};"
        f" ${per_tick * REPAIR_TICKS_A_MONTH:.2f} a month ({REPAIR_TICKS_A_MONTH:,} ticks)"
    )


def report(found: dict[str, Usage], tick: Usage) -> str:
    return "\n\n".join(
        [
            f"AWS calls per mail, measured; prices: {aws_prices.REGION}, {PRICES_AS_OF}",
            calls_table(found),
            cost_table(found),
            repair_line(tick),
            peers_table(),
            "Lambda duration is in-process wall time (moto answers in-process): an estimate."
            " DynamoDB units: items measured on PutItem, other calls taken as one unit each.",
        ]
    )


# --- the process -------------------------------------------------------------------------------


def _aws_environment(workdir: Path) -> None:
    environment.use_moto_credentials()
    os.environ.update(
        # As deployed by default (template.yaml): INFO lines, and the key cache on.
        POWERTOOLS_LOG_LEVEL="INFO",
        POWERTOOLS_METRICS_NAMESPACE="EmailApi",
        AUTH_CACHE_SECONDS="30",
        SECRET_PREFIX="email-api",  # noqa: S106  # where secrets are named
        ADMIN_KEY_SECRET_ID=ADMIN_KEY_SECRET,
    )


def main(out: TextIO | None = None) -> int:
    """Set up moto and an SMTP server, run every scenario, print the tables."""
    out = out or sys.stdout
    # aiosmtpd's, at every AUTH.
    warnings.filterwarnings("ignore", message="Session.login_data is deprecated")
    with tempfile.TemporaryDirectory(prefix="bench-aws-calls-") as workdir:
        from tests.support.smtp_servers import Authority, CaptureServer, Security

        authority = Authority.create(Path(workdir), "bench")
        environment.configure(str(authority.bundle))
        _aws_environment(Path(workdir))
        import boto3
        from moto import mock_aws

        from local_stack.environment import table_setting
        from local_stack.template_tables import create_tables, table_schemas

        meter = Meter()
        server = CaptureServer(
            security=Security.STARTTLS,
            authority=authority,
            credentials=(SMTP_USER, SMTP_PASSWORD),
            extensions=("PIPELINING",),
        )
        with mock_aws(), server:
            names = {logical: os.environ[table_setting(logical)] for logical in table_schemas()}
            create_tables(boto3.client("dynamodb"), names)
            admin_key = "bench-admin-key-0123456789"
            boto3.client("secretsmanager").create_secret(
                Name=ADMIN_KEY_SECRET, SecretString=admin_key
            )
            os.environ["SEND_QUEUE_URL"] = boto3.client("sqs").create_queue(
                QueueName=QUEUE_NAME, Attributes={"VisibilityTimeout": "720"}
            )["QueueUrl"]
            boto3.client("s3").create_bucket(Bucket=os.environ["STAGING_BUCKET"])
            with installed(meter):
                found, tick = run_all(Deployment(meter, admin_key, server.port))
    print(report(found, tick), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
