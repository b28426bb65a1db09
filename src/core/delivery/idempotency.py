"""Idempotency keys: a send happens at most once per key and credential (Powertools + DynamoDB).

A repeat with the same body gets the first answer again; the same key with another body is a
409 `idempotency_conflict`; a repeat while the first is still running is a 409
`idempotency_in_progress`. An answer that says the outcome is unknown is remembered too, so a
retry never sends blindly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import TypeAdapter

from core.errors import Conflict
from core.outcomes import SendOutcome

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
    from aws_lambda_powertools.utilities.typing import LambdaContext


def keyed_record_id(scope: str, key: str) -> str:
    """The record id of a queued send under an Idempotency-Key: the same for every retry of
    it, so that a retry after the first request died (its Powertools record INPROGRESS until
    the dead Lambda's time is up, then run again) finds the first message's record and
    answers it, where a fresh id would queue a second message beside the repaired first."""
    return hashlib.sha256(f"{scope}#{key}".encode()).hexdigest()[:32]


# The outcome as the idempotency store keeps it (JSON), and back.
_STORED: TypeAdapter[SendOutcome] = TypeAdapter(SendOutcome)

Outcome = TypeVar("Outcome")


def at_most_once(
    store: Callable[[], BasePersistenceLayer],
    *,
    key: str | None,
    scope: str,
    body: Any,
    expires_after_seconds: int,
    lambda_context: LambdaContext | None,
    operation: Callable[[], Outcome],
    stored_as: TypeAdapter[Outcome] | None = None,
) -> Outcome:
    """Run `operation` once for (`scope`, `key`) in the `store()`; with no key, just run it
    (the store, its DynamoDB client and Powertools' idempotency are then never loaded: most
    sends carry no key, and a cold start pays for each). Its outcome is kept as `stored_as`
    turns it into JSON and back (a send's, unless told: a batch keeps its own)."""
    adapter: TypeAdapter[Any] = stored_as if stored_as is not None else _STORED
    if not key:
        return operation()
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    config = IdempotencyConfig(
        event_key_jmespath="scope",
        payload_validation_jmespath="body",
        expires_after_seconds=expires_after_seconds,
    )
    if lambda_context is not None:
        # An attempt cut off by the Lambda's timeout must not block retries for 24 hours.
        config.register_lambda_context(lambda_context)

    def send_once(request: dict[str, Any]) -> dict[str, Any]:
        stored: dict[str, Any] = adapter.dump_python(operation(), mode="json")
        return stored

    once = idempotent_function(
        data_keyword_argument="request", persistence_store=store(), config=config
    )(send_once)
    try:
        stored = once(request={"scope": f"{scope}#{key}", "body": body})
    except IdempotencyValidationError:
        raise Conflict(
            "This Idempotency-Key was used with a different request.",
            reason="idempotency_conflict",
        ) from None
    except IdempotencyAlreadyInProgressError:
        raise Conflict(
            "A request with this Idempotency-Key is still in progress.",
            reason="idempotency_in_progress",
        ) from None
    kept: Outcome = adapter.validate_python(stored)
    return kept
