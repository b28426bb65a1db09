"""What a send request comes to, as core reports it: sent now, queued, or sent with its fate
unknown. Handlers turn these into HTTP answers; the idempotency store keeps them as they are,
so a repeated request gets the first outcome again."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.access.quota import Quota
from core.errors import DeliveryOutcomeUnknown


class _Outcome(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # The caller's rate-limit standing after this request (None when its role has no limits).
    quota: Quota | None = None


class Sent(_Outcome):
    """The server took the message for `accepted`; DreamFactory's `count` is their number."""

    kind: Literal["sent"] = "sent"
    id: str
    message_id: str
    accepted: list[str]
    refused: dict[str, str] = Field(default_factory=dict)
    # Left out of the envelope: on the suppression list.
    suppressed: list[str] = Field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.accepted)


class Queued(_Outcome):
    """Accepted for the worker: queued, or scheduled for `send_at`."""

    kind: Literal["queued"] = "queued"
    id: str
    message_id: str
    status: str
    send_at: str | None = None
    suppressed: list[str] = Field(default_factory=list)


class Unconfirmed(_Outcome):
    """The connection ended after the message was handed over: it may have gone. Kept like a
    success under an idempotency key, so that a retry does not send it again."""

    kind: Literal["unconfirmed"] = "unconfirmed"
    message: str
    reason: str
    context: dict[str, object] = Field(default_factory=dict)

    @classmethod
    def of(cls, error: DeliveryOutcomeUnknown) -> Unconfirmed:
        return cls(message=error.message, reason=error.reason, context=error.context)

    def error(self) -> DeliveryOutcomeUnknown:
        return DeliveryOutcomeUnknown(self.message, reason=self.reason, context=self.context)


SendOutcome = Annotated[Sent | Queued | Unconfirmed, Field(discriminator="kind")]
