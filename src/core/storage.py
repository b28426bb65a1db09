"""A DynamoDB table as the repositories use it: whole items by key, created at most once,
changed by conditional updates. The one module that writes DynamoDB expressions."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.conditions import Attr, ConditionBase, Key

from core.aws_session import CREATING_CLIENTS

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.service_resource import DynamoDBServiceResource, Table
    from mypy_boto3_dynamodb.type_defs import UpdateItemInputTableUpdateItemTypeDef

Item = dict[str, Any]


@lru_cache(maxsize=1)
def dynamodb() -> DynamoDBServiceResource:
    """The container's DynamoDB resource. Every table shares its one client: a client is
    costly to build, and each would open its own connections (TLS handshakes, in AWS)."""
    with CREATING_CLIENTS:
        return boto3.resource("dynamodb")


def dynamodb_client() -> DynamoDBClient:
    """A client that takes DynamoDB's own types (`{"S": ...}`), for a library that writes them
    (Powertools' idempotency store); the tables' client converts Python values itself. Of the
    default boto3 session, as the tables are: a new session loads every AWS data file again."""
    with CREATING_CLIENTS:
        return boto3.client("dynamodb")


class ItemTable:
    """Strongly consistent reads, conditional creates; the boto3 table is made on first use."""

    def __init__(self, name: str, key: str, *, table: Table | None = None) -> None:
        self.name = name
        self.key = key
        self._table = table

    @property
    def table(self) -> Table:
        if self._table is None:
            with CREATING_CLIENTS:
                self._table = dynamodb().Table(self.name)
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

    def query_below(
        self, index: str, key: tuple[str, str], below: tuple[str, int], *, limit: int
    ) -> list[Item]:
        """Up to `limit` items of the index `index` whose partition `key` is (name, value)
        and whose sort key `below` (name, bound) is at most the bound, lowest first. An index
        is read eventually consistent: what is done with an item must be conditional."""
        (key_name, key_value), (sort_name, bound) = key, below
        answer = self.table.query(
            IndexName=index,
            KeyConditionExpression=Key(key_name).eq(key_value) & Key(sort_name).lte(bound),
            Limit=limit,
        )
        return list(answer.get("Items", []))

    def query_equal(self, index: str, key: tuple[str, str], *, limit: int) -> list[Item]:
        """Up to `limit` items of the index `index` whose partition `key` is (name, value); read
        eventually consistent, as any index is."""
        key_name, key_value = key
        answer = self.table.query(
            IndexName=index, KeyConditionExpression=Key(key_name).eq(key_value), Limit=limit
        )
        return list(answer.get("Items", []))

    def query_newest(
        self,
        index: str,
        key: tuple[str, str],
        sort: tuple[str, str, str],
        *,
        only: ConditionBase | None,
        after: Item | None,
        limit: int,
    ) -> tuple[list[Item], Item | None]:
        """One read of the index `index`, highest sort key first: the items of the partition
        `key` (name, value) whose sort key `sort` (name, lowest, highest) is within the bounds,
        after the item whose keys are `after`; `limit` items are evaluated, and those for which
        `only` holds are answered, with the keys to go on after (None: no more)."""
        (key_name, key_value), (sort_name, lowest, highest) = key, sort
        arguments: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": Key(key_name).eq(key_value)
            & Key(sort_name).between(lowest, highest),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if only is not None:
            arguments["FilterExpression"] = only
        if after is not None:
            arguments["ExclusiveStartKey"] = after
        answer = self.table.query(**arguments)
        return list(answer.get("Items", [])), answer.get("LastEvaluatedKey")

    def create(self, item: Item, *, or_if: ConditionBase | None = None) -> bool:
        """Write `item` unless its key is taken (by an item for which `or_if` does not hold);
        says whether it was written."""
        condition = Attr(self.key).not_exists()
        try:
            self.table.put_item(
                Item=item, ConditionExpression=condition if or_if is None else condition | or_if
            )
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
        return self.update(key_value, set=fields, only_if=Attr(self.key).exists()) is not None

    def update(
        self,
        key_value: str,
        *,
        set: Item | None = None,  # after DynamoDB's SET clause; shadows the builtin only here
        add: dict[str, int] | None = None,
        set_once: Item | None = None,
        remove: Sequence[str] = (),
        only_if: ConditionBase | None = None,
    ) -> Item | None:
        """In one atomic write, if `only_if` holds: `set` these attributes (enums as their value),
        `add` to these numbers (a missing one counts from 0), `set_once` those not set yet,
        `remove` these. The item as it now
        is, or None when the condition failed. With no condition, a missing item is created."""
        if not set and not add and not set_once and not remove:
            raise ValueError("An update must set, add or remove at least one attribute.")
        names: dict[str, str] = {}
        values: Item = {}
        clauses = []
        # Placeholders of our own (#s0, :a0): boto3 builds `only_if` into #n0, :v0 and merges
        # those with these.
        assignments = []
        for prefix, fields in (("s", set), ("o", set_once), ("a", add)):
            for index, (name, value) in enumerate((fields or {}).items()):
                names[f"#{prefix}{index}"] = name
                values[f":{prefix}{index}"] = _stored(value)
                if prefix == "s":
                    assignments.append(f"#s{index} = :s{index}")
                elif prefix == "o":
                    assignments.append(f"#o{index} = if_not_exists(#o{index}, :o{index})")
        if assignments:
            clauses.append(f"SET {', '.join(assignments)}")
        if add:
            clauses.append("ADD " + ", ".join(f"#a{index} :a{index}" for index in range(len(add))))
        if remove:
            names.update({f"#r{index}": name for index, name in enumerate(remove)})
            clauses.append("REMOVE " + ", ".join(f"#r{index}" for index in range(len(remove))))
        request: UpdateItemInputTableUpdateItemTypeDef = {
            "Key": {self.key: key_value},
            "UpdateExpression": " ".join(clauses),
            "ExpressionAttributeNames": names,
            "ReturnValues": "ALL_NEW",
        }
        if values:  # DynamoDB refuses an empty map of values
            request["ExpressionAttributeValues"] = values
        if only_if is not None:
            request["ConditionExpression"] = only_if
        try:
            answer = self.table.update_item(**request)
        except self.table.meta.client.exceptions.ConditionalCheckFailedException:
            return None
        return dict(answer["Attributes"])

    def delete(self, key_value: str) -> None:
        self.table.delete_item(Key={self.key: key_value})


def _stored(value: Any) -> Any:
    """DynamoDB's form of a value: enums as their value, nothing else changed."""
    return value.value if isinstance(value, Enum) else value
