"""Lambda's SQS event source, played locally: poll the send queue, hand batches to the worker.

As the event source mapping does: long-poll the queue, build the SQS event Lambda would, invoke
the function, then delete the messages it did not report in `batchItemFailures`. A reported
one stays in the queue and comes back when its visibility timeout ends (the worker sets it to
the retry's wait); a batch whose invocation raised stays in the queue whole.

Batches run side by side, up to the source's MaximumConcurrency (the function's concurrency
when the template gives none): the poller receives the next batch as soon as one of those
slots is free, so a slow SMTP server holds up its own batch, not the queue.
"""

from __future__ import annotations

import contextlib
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from local_stack.environment import REGION
from local_stack.functions import LocalFunction, template_value
from local_stack.template_tables import load_template

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

# (payload, whether the function raised): what the gateway's `run_invoke` answers.
Invoker = Callable[[LocalFunction, Any], tuple[Any, bool]]

# How long one receive waits for messages: also the longest a stop waits for the poller.
WAIT_SECONDS = 1
# After an error talking to the queue, before trying again.
ERROR_PAUSE_SECONDS = 1.0
# How long a stop waits for the batches in hand, time enough for an ordinary send to finish;
# the gateway's stop then ends their containers, and what they did not finish stays queued.
STOP_GRACE_SECONDS = 1.0


@dataclass(frozen=True)
class QueueSource:
    """An SQS event of the template: which function consumes which queue, how many at once."""

    function: str  # logical id of the function
    queue: str  # logical id of the queue
    batch_size: int
    reports_batch_item_failures: bool
    # ScalingConfig's MaximumConcurrency: most batches in flight at once; None: not limited.
    maximum_concurrency: int | None = None


def template_queue_sources() -> list[QueueSource]:
    """Every SQS event source of the template's functions."""
    sources = []
    template = load_template()
    parameters = template.get("Parameters") or {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            if event.get("Type") != "SQS":
                continue
            properties = event["Properties"]
            # The loader keeps `!GetAtt Queue.Arn` as "Queue.Arn".
            queue = str(properties["Queue"]).removesuffix(".Arn")
            limit = template_value(
                (properties.get("ScalingConfig") or {}).get("MaximumConcurrency"), parameters
            )
            sources.append(
                QueueSource(
                    function=logical_id,
                    queue=queue,
                    # SQS receives at most 10 messages per call.
                    batch_size=min(int(properties.get("BatchSize", 10)), 10),
                    reports_batch_item_failures="ReportBatchItemFailures"
                    in (properties.get("FunctionResponseTypes") or []),
                    maximum_concurrency=int(limit) if limit is not None else None,
                )
            )
    return sources


def sqs_event(messages: list[MessageTypeDef], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source hands the function for `messages`."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": dict(message.get("Attributes") or {}),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for name, value in (message.get("MessageAttributes") or {}).items()
                },
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for message in messages
        ]
    }


def to_delete(messages: list[MessageTypeDef], answer: Any, *, partial: bool) -> list[str]:
    """Receipt handles of the messages the invocation is done with: all but the reported
    failures (or all, when the function does not report them)."""
    failed: set[str] = set()
    if partial and isinstance(answer, dict):
        failed = {
            str(item.get("itemIdentifier"))
            for item in answer.get("batchItemFailures") or []
            if isinstance(item, dict)
        }
    return [message["ReceiptHandle"] for message in messages if message["MessageId"] not in failed]


class WorkerPoller:
    """Polls `queue_url` on its own thread and runs `function` on what arrives, each batch on a
    thread of its own, `concurrency` of them at most."""

    def __init__(
        self,
        sqs: SQSClient,
        source: QueueSource,
        queue_url: str,
        queue_arn: str,
        function: LocalFunction,
        invoke: Invoker,
    ) -> None:
        self.source = source
        self.queue_url = queue_url
        # Never more batches than the function has containers: one would only wait for another.
        self.concurrency = min(
            source.maximum_concurrency or function.concurrency, function.concurrency
        )
        self._sqs = sqs
        self._queue_arn = queue_arn
        self._function = function
        self._invoke = invoke
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._batches: set[threading.Thread] = set()
        self._batches_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling, and give the batches in hand a moment to finish."""
        self._stopping.set()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        self._thread.join()  # at most one receive's wait
        with self._batches_lock:
            batches = list(self._batches)
        for batch in batches:
            batch.join(max(0.0, deadline - time.monotonic()))

    def _run(self) -> None:
        while not self._stopping.is_set():
            # A slot first: a batch received with nowhere to run would only wait, invisible.
            if not self._slots.acquire(timeout=WAIT_SECONDS):
                continue
            try:
                messages = self._receive()
            except Exception:
                self._slots.release()
                if self._stopping.is_set():
                    return
                traceback.print_exc()
                time.sleep(ERROR_PAUSE_SECONDS)
                continue
            if not messages:
                self._slots.release()
                continue
            if self._stopping.is_set():
                self._slots.release()
                self._give_back(messages)
                return
            batch = threading.Thread(
                target=self._run_batch, args=(messages,), name="worker-batch", daemon=True
            )
            with self._batches_lock:
                self._batches.add(batch)
            batch.start()

    def _receive(self) -> list[MessageTypeDef]:
        received = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.source.batch_size,
            WaitTimeSeconds=WAIT_SECONDS,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return received.get("Messages") or []

    def _run_batch(self, messages: list[MessageTypeDef]) -> None:
        try:
            self.handle(messages)
        except Exception:
            if not self._stopping.is_set():
                traceback.print_exc()
        finally:
            self._slots.release()
            with self._batches_lock:
                self._batches.discard(threading.current_thread())

    def handle(self, messages: list[MessageTypeDef]) -> None:
        """One invocation on `messages`, then delete those it is done with."""
        answer, failed = self._invoke(self._function, sqs_event(messages, self._queue_arn))
        if failed:
            return  # as in Lambda: the whole batch comes back later
        handles = to_delete(messages, answer, partial=self.source.reports_batch_item_failures)
        if handles:
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": handle}
                    for index, handle in enumerate(handles)
                ],
            )

    def _give_back(self, messages: list[MessageTypeDef]) -> None:
        """Received while stopping: visible again at once, not after the visibility timeout."""
        # Failing that, they come back after their visibility timeout anyway.
        with contextlib.suppress(Exception):
            self._sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {
                        "Id": str(index),
                        "ReceiptHandle": message["ReceiptHandle"],
                        "VisibilityTimeout": 0,
                    }
                    for index, message in enumerate(messages)
                ],
            )
