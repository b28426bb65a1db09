"""The suppression list in DynamoDB: the `SuppressionStore` of `core.ports`.

Table keys: `scope` (partition: `*` or a service's name) and `email` (sort). A send's lookup
is one BatchGetItem for every (scope, recipient) pair; a list of one scope is a Query, the
whole list (an admin's, rare and paged) a Scan.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr, Key

from core.errors import InvalidRequest
from core.storage import dynamodb
from core.suppression.model import Reason, Suppression, SuppressionPage

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import DynamoDBServiceResource, Table

# BatchGetItem's limit of keys per call.
BATCH_KEYS = 100
# Keys DynamoDB left unprocessed (throttled) are asked again this many times at most.
BATCH_ROUNDS = 5


class SuppressionRepository:
    def __init__(self, table_name: str, *, resource: DynamoDBServiceResource | None = None) -> None:
        self._name = table_name
        self._resource = resource

    @property
    def _dynamodb(self) -> DynamoDBServiceResource:
        return self._resource or dynamodb()

    @property
    def _table(self) -> Table:
        return self._dynamodb.Table(self._name)

    def put(self, entry: Suppression) -> None:
        """Keep `entry`, over any entry of the same scope and address (the latest reason wins)."""
        self._table.put_item(Item=entry.model_dump(mode="json", exclude_none=True))

    def get(self, scope: str, email: str) -> Suppression | None:
        item = self._table.get_item(Key={"scope": scope, "email": email}).get("Item")
        return None if item is None else Suppression.model_validate(item)

    def delete(self, scope: str, email: str) -> bool:
        """Remove the entry; False if there was none."""
        answer = self._table.delete_item(
            Key={"scope": scope, "email": email}, ReturnValues="ALL_OLD"
        )
        return "Attributes" in answer

    def among(self, scopes: Iterable[str], emails: Iterable[str]) -> list[Suppression]:
        """The entries of any of `scopes` for any of `emails`, in as few BatchGetItem calls as
        the keys need (100 a call)."""
        keys = [{"scope": scope, "email": email} for scope in scopes for email in set(emails)]
        found: list[Suppression] = []
        for start in range(0, len(keys), BATCH_KEYS):
            found.extend(self._batch_get(keys[start : start + BATCH_KEYS]))
        return found

    def _batch_get(self, keys: list[dict[str, str]]) -> list[Suppression]:
        items: list[dict[str, Any]] = []
        request: Any = {self._name: {"Keys": keys, "ConsistentRead": True}}
        for _ in range(BATCH_ROUNDS):
            answer = self._dynamodb.batch_get_item(RequestItems=request)
            items.extend(answer.get("Responses", {}).get(self._name, []))
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                return [Suppression.model_validate(item) for item in items]
        # Still throttled: a send must not go to an address it could not check.
        raise RuntimeError("The suppression list could not be read (throttled).")

    def page(
        self, *, scope: str | None, reason: Reason | None, limit: int, cursor: str | None
    ) -> SuppressionPage:
        """Up to `limit` entries (of one `scope`, with one `reason`, if given) after `cursor`.
        With a `reason`, a page may hold fewer than `limit` and still have a next one."""
        arguments: dict[str, Any] = {"Limit": limit}
        if reason is not None:
            arguments["FilterExpression"] = Attr("reason").eq(reason.value)
        if cursor is not None:
            arguments["ExclusiveStartKey"] = _start_key(cursor)
        if scope is None:
            answer: Any = self._table.scan(**arguments)
        else:
            answer = self._table.query(KeyConditionExpression=Key("scope").eq(scope), **arguments)
        last = answer.get("LastEvaluatedKey")
        return SuppressionPage(
            entries=[Suppression.model_validate(item) for item in answer.get("Items", [])],
            next_cursor=_cursor(last) if last else None,
        )


def _cursor(last_key: dict[str, Any]) -> str:
    """DynamoDB's key to start after, opaque to the caller."""
    return base64.urlsafe_b64encode(json.dumps(last_key, sort_keys=True).encode()).decode()


def _start_key(cursor: str) -> dict[str, str]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeError):
        key = None
    if (
        not isinstance(key, dict)
        or set(key) != {"scope", "email"}
        or not all(isinstance(value, str) for value in key.values())
    ):
        raise InvalidRequest(
            "Invalid cursor.", reason="invalid_cursor", context={"field": "cursor"}
        )
    return key
