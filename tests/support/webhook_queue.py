"""The webhook queue in moto and the sender Lambda fed from it as SQS's event source would.

`WebhookCalls.run_sender()` receives a batch, hands the sender the event Lambda would build,
and deletes every message not reported in `batchItemFailures`. A reported message has had its
visibility set to its retry's wait; with `time_passes` (the default) that wait is skipped, so
the next run is the redelivery (SQS counting one more receive: the attempt number).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3

from local_stack.apigateway import LocalLambdaContext
from local_stack.worker_poller import sqs_event, to_delete

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

QUEUE_NAME = "email-api-webhook-queue"


@dataclass
class WebhookCalls:
    url: str
    arn: str
    sqs: SQSClient = field(repr=False)

    @classmethod
    def create(cls) -> WebhookCalls:
        """The queue, in moto (inside `mock_aws`)."""
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return cls(url=url, arn=attributes["Attributes"]["QueueArn"], sqs=sqs)

    def receive(self) -> list[MessageTypeDef]:
        received = self.sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=10, AttributeNames=["All"]
        )
        return list(received.get("Messages") or [])

    def run_sender(self, *, time_passes: bool = True, timeout_seconds: float = 30) -> set[str]:
        """One invocation of the sender on a received batch; the ids it asked back later."""
        from handlers import webhook_sender  # late: the handler reads settings on import

        batch = self.receive()
        if not batch:
            return set()
        context = LocalLambdaContext(
            function_name="WebhookSenderFunction", timeout_seconds=timeout_seconds
        )
        answer: dict[str, Any] = dict(
            webhook_sender.lambda_handler(sqs_event(batch, self.arn), context.typed())
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
        return failed

    def run_until_empty(self, *, most: int = 10) -> None:
        """The sender run until the queue is empty (at most `most` times: then an error)."""
        for _ in range(most):
            if not self.waiting():
                return
            self.run_sender()
        raise AssertionError(f"the webhook queue still had calls after {most} sender runs")

    def waiting(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
