"""What a batch comes to: one result per item, in order. Handlers turn it into the answer;
the idempotency store keeps it as it is, so a repeated batch gets the first answer again."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.access.quota import Quota
from core.errors import EmailApiError, RateLimited


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int


class ItemSent(_Result):
    """The server took the item's message for `count` recipients."""

    status: Literal["sent"] = "sent"
    id: str
    message_id: str
    count: int
    refused: dict[str, str] = Field(default_factory=dict)
    suppressed: list[str] = Field(default_factory=list)


class ItemQueued(_Result):
    """The item's record and job exist: the worker sends it (`queued`), or at its `send_at`
    (`scheduled`)."""

    status: Literal["queued", "scheduled"]
    id: str
    message_id: str
    send_at: str | None = None
    suppressed: list[str] = Field(default_factory=list)


class ItemFailed(_Result):
    """The item was refused (or its fate is unknown): what its own send would have answered."""

    status: Literal["failed"] = "failed"
    code: int
    message: str
    reason: str
    context: dict[str, Any] = Field(default_factory=dict)
    retry_after: int | None = None

    @classmethod
    def of(cls, index: int, error: EmailApiError) -> ItemFailed:
        return cls(
            index=index,
            code=error.status,
            message=error.message,
            reason=error.reason,
            context=error.context,
            retry_after=error.retry_after if isinstance(error, RateLimited) else None,
        )


ItemResult = Annotated[ItemSent | ItemQueued | ItemFailed, Field(discriminator="status")]


class BatchOutcome(BaseModel):
    """Every item's result, in order; `queued` when the batch went to the queue as a whole."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    results: list[ItemResult]
    queued: bool
    # The caller's rate-limit standing after the last item that took from it.
    quota: Quota | None = None
