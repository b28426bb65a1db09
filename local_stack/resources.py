"""What `sam deploy` would create, made in moto: the template's tables, its send queue and
dead-letter queue, the staging bucket, and the admin key secret."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import boto3

from local_stack.environment import (
    ADMIN_KEY_SECRET_ID,
    STAGING_BUCKET,
    queue_arn,
    queue_names,
    table_names,
)
from local_stack.template_tables import create_tables, load_template

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType

# Queue properties that change how the worker sees its messages.
_QUEUE_ATTRIBUTES: tuple[QueueAttributeNameType, ...] = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
)


def provision(admin_key: str) -> None:
    """Create the tables, queues and bucket, and store the admin key; boto3 must already
    point at moto."""
    create_tables(boto3.client("dynamodb"), table_names())
    create_queues(boto3.client("sqs"))
    boto3.client("s3").create_bucket(Bucket=STAGING_BUCKET)
    boto3.client("secretsmanager").create_secret(
        Name=ADMIN_KEY_SECRET_ID,
        SecretString=admin_key,
        Description="Admin API key of the local email API",
    )


def create_queues(sqs: SQSClient) -> None:
    """Each queue of the template with its timeouts and redrive policy, dead-letter queues first."""
    resources = load_template()["Resources"]
    names = queue_names()
    # A queue whose redrive policy names another must come after it.
    ordered = sorted(
        names, key=lambda logical_id: "RedrivePolicy" in _properties(resources, logical_id)
    )
    for logical_id in ordered:
        properties = _properties(resources, logical_id)
        attributes: dict[QueueAttributeNameType, str] = {
            key: str(properties[key]) for key in _QUEUE_ATTRIBUTES if key in properties
        }
        redrive = properties.get("RedrivePolicy")
        if redrive:
            # The loader keeps `!GetAtt Dlq.Arn` as "Dlq.Arn".
            target = str(redrive["deadLetterTargetArn"]).removesuffix(".Arn")
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": queue_arn(target),
                    "maxReceiveCount": redrive["maxReceiveCount"],
                }
            )
        sqs.create_queue(QueueName=names[logical_id], Attributes=attributes)


def _properties(resources: dict[str, Any], logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = resources[logical_id].get("Properties") or {}
    return properties
