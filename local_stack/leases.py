"""The leases of the run before, given back when the local stack starts: the messages its
workers left `sending`, and the connection slots they held.

A worker that claims a message moves its record to `sending` with a lease (3 x the SMTP timeout
+ 60 s, `core.delivery.record_store`); a job that comes back while the lease runs can only wait for
it. When the stack starts, every worker of its previous run is known to be gone (their
containers died with it): their leases are made to lapse before the pollers start, so each
redelivered job settles its record at once, as `unknown` (`worker_interrupted`), since the
message may have reached the server. Likewise the services' connection slots they held
(`core.delivery.connection_slots`) are freed, rather than left to block the new run's workers
until their holds run out. In AWS no such moment exists, and the lease is what tells.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3

from local_stack.environment import table_names

MESSAGES_TABLE = "MessagesTable"
RATE_LIMITS_TABLE = "RateLimitsTable"
# `core.delivery.connection_slots.KEY_PREFIX` (the local stack imports no function code).
CONNECTION_SLOT_PREFIX = "connections:"


def give_back_leases() -> int:
    """Make the lease of every `sending` record lapse; returns how many. boto3 must point at
    moto (a scan: the local table only)."""
    dynamodb = boto3.client("dynamodb")
    table = table_names()[MESSAGES_TABLE]
    lapsed = int(time.time()) - 1
    sending = {":sending": {"S": "sending"}}
    given = 0
    for key in _keys_where(
        table,
        FilterExpression="#status = :sending",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues=sending,
    ):
        try:
            dynamodb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET lease_until = :lapsed",
                ConditionExpression="#status = :sending AND lease_until > :lapsed",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={**sending, ":lapsed": {"N": str(lapsed)}},
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            continue  # settled meanwhile, or its lease had lapsed already
        given += 1
    return given


def free_connection_slots() -> int:
    """Free every service's connection slot a worker of the last run held; returns how many
    (a scan: the local table only)."""
    dynamodb = boto3.client("dynamodb")
    table = table_names()[RATE_LIMITS_TABLE]
    freed = 0
    for key in _keys_where(
        table,
        FilterExpression="begins_with(id, :slots) AND attribute_exists(holder)",
        ExpressionAttributeValues={":slots": {"S": CONNECTION_SLOT_PREFIX}},
    ):
        dynamodb.update_item(TableName=table, Key=key, UpdateExpression="REMOVE holder")
        freed += 1
    return freed


def _keys_where(table: str, **scan_filter: Any) -> Iterator[dict[str, Any]]:
    """The key (`id`) of each item of `table` the scan's filter keeps."""
    pages = (
        boto3.client("dynamodb")
        .get_paginator("scan")
        .paginate(TableName=table, ConsistentRead=True, ProjectionExpression="id", **scan_filter)
    )
    for page in pages:
        for item in page["Items"]:
            yield {"id": item["id"]}
