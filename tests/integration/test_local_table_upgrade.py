"""A local stack's state kept by an earlier version has its tables without the indexes added
since: the next start adds them, keeping the items, so the message lists work at once."""

from __future__ import annotations

import copy

import boto3
import pytest

from local_stack.resources import add_missing_indexes
from local_stack.template_tables import table_schemas

pytestmark = pytest.mark.usefixtures("aws")

TABLE = "earlier-messages"


def test_missing_indexes_are_added_and_the_items_kept() -> None:
    dynamodb = boto3.client("dynamodb")
    schema = table_schemas()["MessagesTable"]
    earlier = copy.deepcopy(schema)
    earlier["GlobalSecondaryIndexes"] = [
        index for index in earlier["GlobalSecondaryIndexes"] if index["IndexName"] == "outbox"
    ]
    earlier["AttributeDefinitions"] = [
        attribute
        for attribute in earlier["AttributeDefinitions"]
        if attribute["AttributeName"] in ("id", "outbox_shard", "outbox_due")
    ]
    dynamodb.create_table(TableName=TABLE, **earlier)
    dynamodb.put_item(TableName=TABLE, Item={"id": {"S": "old"}, "service": {"S": "email"}})

    add_missing_indexes(dynamodb, TABLE, schema)
    add_missing_indexes(dynamodb, TABLE, schema)  # a second start changes nothing

    described = dynamodb.describe_table(TableName=TABLE)["Table"]
    names = sorted(index["IndexName"] for index in described["GlobalSecondaryIndexes"])
    assert names == ["by_month", "by_provider_id", "by_service", "outbox"]
    assert dynamodb.get_item(TableName=TABLE, Key={"id": {"S": "old"}})["Item"]["service"] == {
        "S": "email"
    }
    listed = dynamodb.query(
        TableName=TABLE,
        IndexName="by_service",
        KeyConditionExpression="service = :s",
        ExpressionAttributeValues={":s": {"S": "email"}},
    )
    assert listed["Items"] == []  # an earlier record has no listing key
