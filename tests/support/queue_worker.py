"""The send queue in moto and the worker Lambda fed from it as SQS's event source would.

`SendQueue.run_worker()` receives a batch, hands the worker the event Lambda would build, and
deletes every message not reported in `batchItemFailures`. A reported message has had its
visibility set to the retry's wait; with `time_passes` (the default) that wait is skipped,
so the next `run_worker()` is the redelivery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3

from local_stack.apigateway import LocalLambdaContext
from local_stack.worker_poller import sqs_event, to_delete

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

QUEUE_NAME = "email-api-send"
BUCKET_NAME = "email-api-staging"


@dataclass(frozen=True)
class WorkerRun:
    received: list[MessageTypeDef]
    failed: set[str]  # message ids reported as batch item failures


@dataclass
class SendQueue:
    url: str
    arn: str
    bucket: str
    sqs: SQSClient = field(repr=False)
    s3: S3Client = field(repr=False)

    @classmethod
    def create(cls) -> SendQueue:
        """The queue and the staging bucket, in moto (inside `mock_aws`)."""
        sqs = boto3.client("sqs")
        s3 = boto3.client("s3")
        url = sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        s3.create_bucket(Bucket=BUCKET_NAME)
        return cls(url=url, arn=arn, bucket=BUCKET_NAME, sqs=sqs, s3=s3)

    def receive(self) -> list[MessageTypeDef]:
        received = self.sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(received.get("Messages") or [])

    def run_worker(
        self, messages: list[MessageTypeDef] | None = None, *, time_passes: bool = True
    ) -> WorkerRun:
        """One invocation of the worker on a received batch (or on `messages`)."""
        from handlers import worker  # imported late: the handler reads settings on first use

        batch = self.receive() if messages is None else messages
        if not batch:
            return WorkerRun([], set())
        context = LocalLambdaContext(function_name="WorkerFunction", timeout_seconds=60)
        answer: dict[str, Any] = dict(
            worker.lambda_handler(sqs_event(batch, self.arn), context.typed())
        )
        for handle in to_delete(batch, answer, partial=True):
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=handle)
        failed = {str(item["itemIdentifier"]) for item in answer["batchItemFailures"]}
        if time_passes:
            for message in batch:
                if message["MessageId"] in failed:
                    self.sqs.change_message_visibility(
                        QueueUrl=self.url,
                        ReceiptHandle=message["ReceiptHandle"],
                        VisibilityTimeout=0,
                    )
        return WorkerRun(batch, failed)

    def drain(self, *, max_runs: int = 10) -> int:
        """Run the worker until the queue has nothing visible; returns how many runs worked."""
        for runs in range(max_runs):
            if not self.run_worker().received:
                return runs
        raise AssertionError(f"the queue still had messages after {max_runs} worker runs")

    def waiting(self) -> int:
        """Messages in the queue, visible, in flight or delayed."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def staged(self) -> list[str]:
        """Keys of the requests staged in the bucket."""
        listed = self.s3.list_objects_v2(Bucket=self.bucket)
        return [item["Key"] for item in listed.get("Contents", [])]
