"""moto's resources as plain JSON, and back into moto: what the local stack's state is made of.

Only data, never code: reading it back cannot run anything, whoever wrote the file. For each
of moto's accounts and regions:

- DynamoDB: each table's definition (key schema, attributes, indexes, billing, streams, TTL,
  tags) and its items in DynamoDB JSON;
- Secrets Manager: each secret's name, description, tags and current version (its id and
  value: the only one the functions read);
- SQS: each queue's attributes and tags (a dead-letter queue before the queues naming it) and
  its messages with every field moto keeps (`message_json`), their absolute `visible_at` and
  `delayed_until` among them, and which are in flight;
- S3: each bucket and the bodies of its objects.

They are put back through the backends' own methods, as moto's API handlers would, before
moto serves anyone; queued messages, which no API can recreate with their timing, are set
as moto holds them. Bytes anywhere become `{"$bytes": "<base64>"}`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any, Literal

from moto.backends import get_backend
from moto.dynamodb.models import DynamoDBBackend
from moto.s3.models import FakeBucket, S3Backend
from moto.secretsmanager.models import ReplicaSecret, SecretsManagerBackend
from moto.sqs.models import Message, SQSBackend

FORMAT = 1
# moto's backends for the services `template.yaml` uses locally.
SERVICES: tuple[Literal["dynamodb", "secretsmanager", "s3", "sqs"], ...] = (
    "dynamodb",
    "secretsmanager",
    "s3",
    "sqs",
)

# SQS attributes moto computes: never given to CreateQueue.
_COMPUTED_QUEUE_ATTRIBUTES = frozenset(
    {
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesDelayed",
        "ApproximateNumberOfMessagesNotVisible",
        "CreatedTimestamp",
        "LastModifiedTimestamp",
        "QueueArn",
    }
)
# Every field of moto's SQS message, under the name moto gives it.
_MESSAGE_FIELDS = (
    "id",
    "body",
    "message_attributes",
    "receipt_handle",
    "_old_receipt_handles",
    "sender_id",
    "sent_timestamp",
    "approximate_first_receive_timestamp",
    "approximate_receive_count",
    "deduplication_id",
    "group_id",
    "sequence_number",
    "visible_at",
    "delayed_until",
    "system_attributes",
)


def dumps(data: Any) -> bytes:
    """`data` as JSON, bytes tagged so `loads` gives them back."""
    return json.dumps(data, separators=(",", ":"), default=_tag_bytes).encode()


def loads(text: bytes | str) -> Any:
    return json.loads(text, object_hook=_untag_bytes)


def dump_resources() -> dict[str, Any]:
    """Every resource moto holds for the stack's services, as JSON-able data."""
    return {
        "format": FORMAT,
        "dynamodb": [
            {"account": account, "region": region, "tables": _tables(backend)}
            for account, region, backend in _backends("dynamodb")
        ],
        "secretsmanager": [
            {"account": account, "region": region, "secrets": _secrets(backend)}
            for account, region, backend in _backends("secretsmanager")
        ],
        "sqs": [
            {"account": account, "region": region, "queues": _queues(backend)}
            for account, region, backend in _backends("sqs")
        ],
        "s3": [
            {"account": account, "region": region, "buckets": _buckets(backend)}
            for account, region, backend in _backends("s3")
        ],
    }


def load_resources(state: dict[str, Any]) -> None:
    """Put what `dump_resources` gave back into moto (whose backends hold none of it yet)."""
    if state.get("format") != FORMAT:
        raise ValueError(f"unknown state format {state.get('format')!r} (this is {FORMAT})")
    for place in state["dynamodb"]:
        tables = get_backend("dynamodb")[place["account"]][place["region"]]
        for table in place["tables"]:
            _restore_table(tables, table)
    for place in state["secretsmanager"]:
        secrets = get_backend("secretsmanager")[place["account"]][place["region"]]
        for secret in place["secrets"]:
            _restore_secret(secrets, secret)
    for place in state["sqs"]:
        queues = get_backend("sqs")[place["account"]][place["region"]]
        for queue in place["queues"]:
            _restore_queue(queues, queue)
    for place in state["s3"]:
        buckets = get_backend("s3")[place["account"]][place["region"]]
        for bucket in place["buckets"]:
            _restore_bucket(buckets, bucket)


def message_json(message: Message) -> dict[str, Any]:
    """An SQS message as moto holds it, every field."""
    return {name.lstrip("_"): getattr(message, name) for name in _MESSAGE_FIELDS}


def message_from_json(data: dict[str, Any]) -> Message:
    message = Message(data["id"], data["body"])
    for name in _MESSAGE_FIELDS:
        setattr(message, name, data[name.lstrip("_")])
    return message


# --- DynamoDB ----------------------------------------------------------------------------------


def _tables(backend: DynamoDBBackend) -> list[dict[str, Any]]:
    return [
        {
            "name": table.name,
            "schema": table.schema,
            "attr": table.attr,
            "billing_mode": table.billing_mode,
            "throughput": {
                "ReadCapacityUnits": table.throughput["ReadCapacityUnits"],
                "WriteCapacityUnits": table.throughput["WriteCapacityUnits"],
            },
            "indexes": [index.describe() for index in table.indexes],
            "global_indexes": [
                {
                    name: value
                    for name, value in index.describe().items()
                    if name in ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")
                }
                for index in table.global_indexes
            ],
            "streams": table.stream_specification,
            "sse_specification": table.sse_specification,
            "tags": table.tags,
            "deletion_protection_enabled": table.deletion_protection_enabled,
            "ttl": table.ttl,
            "items": [item.to_json()["Attributes"] for item in table.all_items()],
        }
        for table in list(backend.tables.values())
    ]


def _restore_table(backend: DynamoDBBackend, table: dict[str, Any]) -> None:
    on_demand = table["billing_mode"] == "PAY_PER_REQUEST"
    streams = table["streams"] if table["streams"].get("StreamEnabled") else None
    created = backend.create_table(
        table["name"],
        schema=table["schema"],
        throughput=None if on_demand else table["throughput"],
        attr=table["attr"],
        global_indexes=table["global_indexes"],
        indexes=table["indexes"],
        streams=streams,
        billing_mode=table["billing_mode"],
        sse_specification=table["sse_specification"],
        tags=table["tags"],
        deletion_protection_enabled=table["deletion_protection_enabled"],
        warm_throughput=None,
    )
    created.ttl = dict(table["ttl"])
    for item in table["items"]:
        created.put_item(item)


# --- Secrets Manager ---------------------------------------------------------------------------


def _secrets(backend: SecretsManagerBackend) -> list[dict[str, Any]]:
    found = []
    for secret in list(backend.secrets.values()):
        # Replicas live in other regions' backends, which the stack never asks for.
        if isinstance(secret, ReplicaSecret) or secret.default_version_id is None:
            continue
        current = secret.versions[secret.default_version_id]
        found.append(
            {
                "name": secret.name,
                "description": secret.description,
                "tags": secret.tags,
                "kms_key_id": secret.kms_key_id,
                "version_id": current["version_id"],
                "secret_string": current.get("secret_string"),
                "secret_binary": current.get("secret_binary"),
            }
        )
    return found


def _restore_secret(backend: SecretsManagerBackend, secret: dict[str, Any]) -> None:
    backend.create_secret(
        secret["name"],
        secret_string=secret["secret_string"],
        secret_binary=secret["secret_binary"],
        description=secret["description"],
        tags=secret["tags"],
        kms_key_id=secret["kms_key_id"],
        client_request_token=secret["version_id"],
        replica_regions=[],
        force_overwrite=False,
    )


# --- SQS ---------------------------------------------------------------------------------------


def _queues(backend: SQSBackend) -> list[dict[str, Any]]:
    queues = list(backend.queues.values())
    # A queue whose redrive policy names another must be created after it.
    queues.sort(key=lambda queue: queue.redrive_policy is not None)
    return [
        {
            "name": queue.name,
            "attributes": {
                name: value
                for name, value in queue.attributes.items()
                if name not in _COMPUTED_QUEUE_ATTRIBUTES
            },
            "tags": queue.tags,
            "messages": [message_json(message) for message in list(queue._messages)],
            "in_flight": sorted(message.id for message in list(queue.pending_messages)),
        }
        for queue in queues
    ]


def _restore_queue(backend: SQSBackend, queue: dict[str, Any]) -> None:
    created = backend.create_queue(queue["name"], tags=queue["tags"], **queue["attributes"])
    created._messages = [message_from_json(message) for message in queue["messages"]]
    in_flight = set(queue["in_flight"])
    created.pending_messages.update(m for m in created._messages if m.id in in_flight)


# --- S3 ----------------------------------------------------------------------------------------


def _buckets(backend: S3Backend) -> list[dict[str, Any]]:
    return [
        {
            "name": bucket.name,
            "region": bucket.region_name,
            "objects": {name: key.value for name, key in _objects(bucket)},
        }
        for bucket in list(backend.buckets.values())
    ]


def _objects(bucket: FakeBucket) -> Iterator[tuple[str, Any]]:
    for name in list(bucket.keys):
        key = bucket.keys.get(name)
        if hasattr(key, "value"):  # not a delete marker
            yield name, key


def _restore_bucket(backend: S3Backend, bucket: dict[str, Any]) -> None:
    backend.create_bucket(bucket["name"], bucket["region"])
    for name, body in bucket["objects"].items():
        backend.put_object(bucket["name"], name, body)


# --- the parts of moto, and bytes --------------------------------------------------------------


def _backends(service: Any) -> Iterator[tuple[str, str, Any]]:
    yield from get_backend(service).iter_backends()


def _tag_bytes(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    raise TypeError(f"{type(value).__name__} is not kept in the local stack's state")


def _untag_bytes(value: dict[str, Any]) -> Any:
    if value.keys() == {"$bytes"}:
        return base64.b64decode(value["$bytes"])
    return value
