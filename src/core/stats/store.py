"""The daily counters in DynamoDB: the `StatsStore` of `core.ports`.

Table keys: `month` (partition, `YYYY-MM`) and `day_service` (sort, `YYYY-MM-DD#service`).
A day's counters of a service are one item that each batch of events ADDs to; a range of
days is one Query a month (a service's filter on top), never a scan, and a month holds at
most a few thousand items (its days times the services).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr, Key

from core.stats.model import COUNTERS, DayCounts
from core.storage import dynamodb

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import DynamoDBServiceResource, Table

# Sorts after any service name's characters: `day#<this>` ends a day's range.
_LAST = "\U0010ffff"


class StatsRepository:
    def __init__(self, table_name: str, *, resource: DynamoDBServiceResource | None = None) -> None:
        self._name = table_name
        self._resource = resource

    @property
    def _table(self) -> Table:
        return (self._resource or dynamodb()).Table(self._name)

    def add(self, service: str, day: str, counts: Mapping[str, int]) -> None:
        added = {name: count for name, count in counts.items() if name in COUNTERS and count}
        if not added:
            return
        names = {f"#c{i}": name for i, name in enumerate(added)}
        values: dict[str, Any] = {f":c{i}": count for i, count in enumerate(added.values())}
        values[":service"] = service
        values[":date"] = day
        additions = ", ".join(f"#c{i} :c{i}" for i in range(len(added)))
        self._table.update_item(
            Key={"month": day[:7], "day_service": f"{day}#{service}"},
            UpdateExpression=f"SET service = :service, #date = :date ADD {additions}",
            ExpressionAttributeNames={**names, "#date": "date"},
            ExpressionAttributeValues=values,
        )

    def days(self, since: date, until: date, *, service: str | None) -> list[DayCounts]:
        rows: list[DayCounts] = []
        for month in _months(since, until):
            low = max(since.isoformat(), f"{month}-01")
            high = min(until.isoformat(), f"{month}-31")
            query: dict[str, Any] = {
                "KeyConditionExpression": Key("month").eq(month)
                & Key("day_service").between(f"{low}#", f"{high}#{_LAST}")
            }
            if service is not None:
                query["FilterExpression"] = Attr("service").eq(service)
            rows.extend(_row(item) for item in self._query(query))
        return rows

    def _query(self, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
        while True:
            answer = self._table.query(**query)
            yield from answer.get("Items", [])
            if "LastEvaluatedKey" not in answer:
                return
            query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _months(since: date, until: date) -> list[str]:
    """Each `YYYY-MM` from `since`'s month to `until`'s."""
    months = []
    year, month = since.year, since.month
    while (year, month) <= (until.year, until.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _row(item: dict[str, Any]) -> DayCounts:
    counts = {name: int(item[name]) for name in COUNTERS if name in item}
    return DayCounts(service=str(item["service"]), date=str(item["date"]), counts=counts)
