"""A DynamoDB table as the repositories use it: whole items by key, created at most once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.conditions import Attr

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

Item = dict[str, Any]


class ItemTable:
    """Strongly consistent reads, conditional creates; the boto3 table is made on first use."""

    def __init__(self, name: str, key: str, *, table: Table | None = None) -> None:
        self.name = name
        self.key = key
        self._table = table

    @property
    def table(self) -> Table:
        if self._table is None:
            self._table = boto3.resource("dynamodb").Table(self.name)
        return self._table

    def get(self, key_value: str) -> Item | None:
        return self.table.get_item(Key={self.key: key_value}, ConsistentRead=True).get("Item")

    def scan(self) -> list[Item]:
        items: list[Item] = []
        arguments: dict[str, Any] = {"ConsistentRead": True}
        while True:
            page = self.table.scan(**arguments)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def create(self, item: Item) -> bool:
        """Write `item` unless its key is taken; says whether it was written."""
        try:
            self.table.put_item(Item=item, ConditionExpression=Attr(self.key).not_exists())
        except self.table.meta.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def put(self, item: Item) -> None:
        self.table.put_item(Item=item)

    def put_versioned(self, item: Item, expected: int | None) -> bool:
        """Write `item` if the stored one's `version` is still `expected` (None: no item yet);
        False when another writer got there first. Optimistic concurrency: read, change, try."""
        condition = (
            Attr(self.key).not_exists() if expected is None else Attr("version").eq(expected)
        )
        try:
            self.table.put_item(Item=item, ConditionExpression=condition)
        except self.table.meta.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def set_fields(self, key_value: str, fields: Item) -> bool:
        """Change only these attributes of an existing item; False if it no longer exists."""
        names = {f"#f{index}": name for index, name in enumerate(fields)}
        values = {f":v{index}": value for index, value in enumerate(fields.values())}
        assignments = ", ".join(f"#f{index} = :v{index}" for index in range(len(fields)))
        try:
            self.table.update_item(
                Key={self.key: key_value},
                UpdateExpression=f"SET {assignments}",
                ConditionExpression=Attr(self.key).exists(),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self.table.meta.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def delete(self, key_value: str) -> None:
        self.table.delete_item(Key={self.key: key_value})
