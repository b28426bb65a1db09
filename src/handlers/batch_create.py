"""DreamFactory's create for services and roles: one record, or a `resource` batch, each put on
the audit trail as soon as it exists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from aws_lambda_powertools.event_handler import Response

from core.access.audit import audit
from core.access.authentication import Principal
from handlers.request_bodies import Records
from handlers.responses import json_response


class Named(Protocol):
    @property
    def name(self) -> str: ...


class Shown(Protocol):
    def public(self) -> dict[str, Any]: ...


Record = TypeVar("Record", bound=Named)


def create_each(
    principal: Principal,
    records: Records[Record],
    create: Callable[[Record], Shown],
    action: str,
) -> Response[str]:
    """Create the records in order; 201 with the one created, or with the batch as a batch."""
    created = []
    for record in records.items:
        created.append(create(record).public())
        # At once: if a later record fails, the ones already created are still on the trail.
        audit(principal, action, record.name)
    return json_response(201, {"resource": created} if records.batch else created[0])
