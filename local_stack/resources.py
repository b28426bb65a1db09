"""What `sam deploy` would create, made in moto: the template's tables, its send queue and
dead-letter queue, the staging bucket, and the admin key secret.

On a restart the state directory has brought most of it back: what exists is left as it is
(its contents are the user's), and only what is missing is created, a table's indexes too (a
state kept by an earlier version lacks those added since)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from local_stack.environment import (
    ADMIN_KEY_SECRET_ID,
    SEND_QUEUE,
    STAGING_BUCKET,
    queue_arn,
    queue_names,
    table_names,
)
from local_stack.state_store import Restored
from local_stack.template_tables import load_template, table_schemas

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType

# Queue properties that change how the worker sees its messages.
_QUEUE_ATTRIBUTES: tuple[QueueAttributeNameType, ...] = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
)


def provision(admin_key: str, *, keep_existing_key: bool) -> str:
    """Create whatever of the tables, queues, bucket and admin key secret is missing; boto3
    must already point at moto. Returns the admin key in force: `admin_key`, or, with
    `keep_existing_key`, the one an earlier run stored."""
    dynamodb = boto3.client("dynamodb")
    existing = set(dynamodb.list_tables()["TableNames"])
    names = table_names()
    for logical_id, schema in table_schemas().items():
        if names[logical_id] not in existing:
            dynamodb.create_table(TableName=names[logical_id], **schema)
        else:
            add_missing_indexes(dynamodb, names[logical_id], schema)
    # CreateQueue with the same attributes is a no-op, as in SQS, and so is CreateBucket
    # for a bucket of one's own in us-east-1.
    create_queues(boto3.client("sqs"))
    s3 = boto3.client("s3")
    if STAGING_BUCKET not in {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=STAGING_BUCKET)
    return store_admin_key(admin_key, keep_existing=keep_existing_key)


def add_missing_indexes(dynamodb: DynamoDBClient, table: str, schema: dict[str, Any]) -> None:
    """Create each global secondary index of `schema` that `table` lacks (one an update, as
    DynamoDB asks); items written before have none of its keys, so it starts empty."""
    described = dynamodb.describe_table(TableName=table)["Table"]
    present = {index["IndexName"] for index in described.get("GlobalSecondaryIndexes", [])}
    for index in schema.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] in present:
            continue
        dynamodb.update_table(
            TableName=table,
            AttributeDefinitions=schema["AttributeDefinitions"],
            GlobalSecondaryIndexUpdates=[
                {
                    "Create": {
                        "IndexName": index["IndexName"],
                        "KeySchema": index["KeySchema"],
                        "Projection": index["Projection"],
                    }
                }
            ],
        )


def store_admin_key(admin_key: str, *, keep_existing: bool) -> str:
    """Make the admin key secret hold `admin_key`, unless one exists and is to be kept."""
    client = boto3.client("secretsmanager")
    try:
        stored = client.get_secret_value(SecretId=ADMIN_KEY_SECRET_ID)["SecretString"]
    except client.exceptions.ResourceNotFoundException:
        client.create_secret(
            Name=ADMIN_KEY_SECRET_ID,
            SecretString=admin_key,
            Description="Admin API key of the local email API",
        )
        return admin_key
    if keep_existing:
        return stored
    if stored != admin_key:
        client.put_secret_value(SecretId=ADMIN_KEY_SECRET_ID, SecretString=admin_key)
    return admin_key


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


def state_summary(directory: Path, restored: Restored, *, reset: bool) -> str:
    """One line for the banner: a fresh start, or what the state directory brought back."""
    if not restored.anything:
        how = "started fresh (--reset)" if reset else "started fresh"
        return f"{how}; kept in {directory}"
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=queue_names()[SEND_QUEUE])["QueueUrl"]
    counts = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesDelayed",
            "ApproximateNumberOfMessagesNotVisible",
        ],
    )["Attributes"]
    queued = sum(int(count) for count in counts.values())
    line = (
        f"restored from {directory}: {_count('ServicesTable', records_keyed_by='name')} services,"
        f" {_count('ApiKeysTable')} API keys, {_count('MessagesTable')} messages"
        f" ({queued} still queued)"
    )
    if restored.released:
        line += f"; {restored.released} the last run's poller held, visible again"
    if restored.refused:
        line += f"; {len(restored.refused)} journal entries did not apply (see above)"
        for refusal in restored.refused:
            print(f"state: not applied: {refusal}", flush=True)
    return line


def _count(logical_id: str, *, records_keyed_by: str | None = None) -> int:
    """Items in a table of the template; with `records_keyed_by`, only records, not the
    numeric ids' bookkeeping items beside them (`#counter`, `#id:<n>`: core.numeric_ids)."""
    pages = boto3.client("dynamodb").get_paginator("scan")
    only_records: dict[str, Any] = (
        {}
        if records_keyed_by is None
        else {
            "FilterExpression": "NOT begins_with(#key, :bookkeeping)",
            "ExpressionAttributeNames": {"#key": records_keyed_by},
            "ExpressionAttributeValues": {":bookkeeping": {"S": "#"}},
        }
    )
    return sum(
        page["Count"]
        for page in pages.paginate(
            TableName=table_names()[logical_id], Select="COUNT", **only_records
        )
    )
