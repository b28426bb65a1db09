"""Webhooks in DynamoDB: the subscriptions (`WebhooksTable`, key `id`) and each endpoint's
delivery log (`WebhookDeliveriesTable`: partition `webhook_id`, sort `sort` = the attempt's
time, event and number, so a Query reads an endpoint's newest attempts first; each line
expires after `LOG_DAYS`, which bounds the log)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key

from core.errors import InvalidRequest
from core.storage import ItemTable, dynamodb
from core.webhooks.model import Attempt, AttemptPage, StoredWebhook

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import DynamoDBServiceResource, Table

LOG_DAYS = 14


class WebhookRepository:
    def __init__(self, table: ItemTable) -> None:
        self._table = table

    def create(self, webhook: StoredWebhook) -> None:
        if not self._table.create(webhook.model_dump(mode="json", exclude_none=True)):
            raise RuntimeError(f"Webhook id {webhook.id} is taken.")  # 128 random bits: never

    def get(self, webhook_id: str) -> StoredWebhook | None:
        item = self._table.get(webhook_id)
        return None if item is None else StoredWebhook.model_validate(item)

    def all(self) -> list[StoredWebhook]:
        """Every subscription: a scan, as there are few and the callers cache them."""
        return [StoredWebhook.model_validate(item) for item in self._table.scan()]

    def delete(self, webhook_id: str) -> None:
        self._table.delete(webhook_id)


class DeliveryLog:
    def __init__(self, table_name: str, *, resource: DynamoDBServiceResource | None = None) -> None:
        self._name = table_name
        self._resource = resource

    @property
    def _table(self) -> Table:
        return (self._resource or dynamodb()).Table(self._name)

    def record(self, attempt: Attempt) -> None:
        at = datetime.fromisoformat(attempt.at)
        moment = at.isoformat(timespec="microseconds")
        item: dict[str, Any] = {
            **attempt.model_dump(mode="json", exclude_none=True),
            "sort": f"{moment}#{attempt.event_id}#{attempt.attempt:03d}",
            "expiration": int((at + timedelta(days=LOG_DAYS)).timestamp()),
        }
        # Floats are no DynamoDB number: milliseconds are.
        item["seconds"] = round(attempt.seconds * 1000)
        self._table.put_item(Item=item)

    def page(self, webhook_id: str, *, limit: int, cursor: str | None) -> AttemptPage:
        """Up to `limit` attempts of one endpoint, newest first, after `cursor`."""
        arguments: dict[str, Any] = {
            "KeyConditionExpression": Key("webhook_id").eq(webhook_id),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor is not None:
            arguments["ExclusiveStartKey"] = _start_key(cursor, webhook_id)
        answer: Any = self._table.query(**arguments)
        last = answer.get("LastEvaluatedKey")
        return AttemptPage(
            attempts=[_attempt(item) for item in answer.get("Items", [])],
            next_cursor=_cursor(last) if last else None,
        )

    def delete_all(self, webhook_id: str) -> None:
        """Forget an endpoint's log (its subscription is gone)."""
        table = self._table
        with table.batch_writer() as batch:
            cursor: dict[str, Any] | None = None
            while True:
                arguments: dict[str, Any] = {
                    "KeyConditionExpression": Key("webhook_id").eq(webhook_id),
                    "ProjectionExpression": "webhook_id, #s",
                    "ExpressionAttributeNames": {"#s": "sort"},
                }
                if cursor is not None:
                    arguments["ExclusiveStartKey"] = cursor
                answer: Any = table.query(**arguments)
                for item in answer.get("Items", []):
                    batch.delete_item(Key={"webhook_id": webhook_id, "sort": item["sort"]})
                cursor = answer.get("LastEvaluatedKey")
                if cursor is None:
                    return


def _attempt(item: dict[str, Any]) -> Attempt:
    fields = {key: value for key, value in item.items() if key not in ("sort", "expiration")}
    fields["seconds"] = int(fields["seconds"]) / 1000
    return Attempt.model_validate(fields)


def _cursor(last_key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(last_key, sort_keys=True).encode()).decode()


def _start_key(cursor: str, webhook_id: str) -> dict[str, str]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeError):
        key = None
    if (
        not isinstance(key, dict)
        or set(key) != {"webhook_id", "sort"}
        or key.get("webhook_id") != webhook_id
        or not all(isinstance(value, str) for value in key.values())
    ):
        raise InvalidRequest(
            "Invalid cursor.", reason="invalid_cursor", context={"field": "cursor"}
        )
    return key
