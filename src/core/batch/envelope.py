"""A batch's envelope: its shape and size, checked before any item is looked at.

Two forms. `{"messages": [send body, ...]}` sends each body as it is. `{"message": {send body},
"recipients": [{"email", "name", "template_data"}, ...]}` sends one copy of the message to each
recipient, addressed to that recipient alone, with the recipient's `template_data` over the
message's. The shared message may name no recipient of its own (`to`, `cc`, `bcc`): each copy
is for its recipient's eyes only, and a Cc or Bcc on every copy would tell every recipient of
the others, or send the Bcc one copy per recipient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.access.authentication import without_api_key
from core.errors import InvalidRequest
from core.send_request import parse_send_request

# Postmark's and Resend's ceiling too: a batch answer stays small enough for one response.
MAX_BATCH_ITEMS = 500
RECIPIENT_FIELDS = frozenset({"email", "name", "template_data"})
_SHARED_RECIPIENT_FIELDS = ("to", "cc", "bcc")


@dataclass(frozen=True)
class BatchEnvelope:
    """The items of a batch, as raw send bodies made on demand (`item_body`): one bad item
    is that item's 400 alone, found when it is reached."""

    messages: tuple[Any, ...] = ()
    message: dict[str, Any] | None = None
    recipients: tuple[Any, ...] = ()

    def __len__(self) -> int:
        return len(self.recipients) if self.message is not None else len(self.messages)

    def item_body(self, index: int) -> Any:
        """The send body of item `index` (the caller's `api_key`, if any, taken out), or a
        400 for a recipient entry that is none."""
        if self.message is None:
            return without_api_key(self.messages[index])
        return _addressed(self.message, self.recipients[index])


def parse_batch(body: Any) -> BatchEnvelope:
    """The batch `body` names, or a 400 for the whole request: not one of the two forms, no
    item, more than `MAX_BATCH_ITEMS`, or a shared message that no copy could send. The items
    themselves are not looked at."""
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object.")
    body = without_api_key(body)
    if "messages" in body:
        if set(body) != {"messages"}:
            raise _invalid("Give either 'messages', or 'message' with 'recipients', not both.")
        return BatchEnvelope(messages=tuple(_items(body["messages"], "messages")))
    if set(body) != {"message", "recipients"}:
        raise _invalid('A batch is {"messages": [...]} or {"message": {...}, "recipients": [...]}.')
    message = body["message"]
    if not isinstance(message, dict):
        raise _invalid("'message' must be a send body (a JSON object).", field="message")
    message = without_api_key(message)
    for field in _SHARED_RECIPIENT_FIELDS:
        if message.get(field) not in (None, "", []):
            raise _invalid(
                f"The shared message may not have '{field}': each recipient gets a copy"
                " addressed to them alone (list them in 'recipients').",
                field=f"message.{field}",
                reason="batch_shared_recipient",
            )
    recipients = tuple(_items(body["recipients"], "recipients"))  # counted first: cheaper
    # Every copy is this message and one recipient: what is wrong with it is wrong with each,
    # the request's 400, not one per recipient.
    parse_send_request(message, complete=False)
    if not _has_content(message):
        raise _invalid(
            "The shared message has no body and names no template: set 'body_text',"
            " 'body_html', 'template' or 'template_id'.",
            field="message",
            reason="no_body",
        )
    return BatchEnvelope(message=message, recipients=recipients)


def _has_content(message: dict[str, Any]) -> bool:
    """Whether the shared message has a body or names a template (which may bring one): each
    copy adds only its recipient, so without either every copy would fail alike, and the
    request, not one item, is the mistake. (As a send reads them: `""`, `0` and `"0"` name no
    template; a wrong body or template is still each copy's own 400.)"""
    if any(message.get(field) not in (None, "") for field in ("body_text", "body_html")):
        return True
    return message.get("template") not in (None, "") or message.get("template_id") not in (
        None,
        "",
        0,
        "0",
    )


def _items(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise _invalid(f"'{field}' must be a list.", field=field)
    if not value:
        raise _invalid(f"'{field}' is empty: a batch needs at least one item.", field=field)
    if len(value) > MAX_BATCH_ITEMS:
        raise _invalid(
            f"{len(value)} items is more than the {MAX_BATCH_ITEMS} a batch may have; send"
            " several batches.",
            field=field,
            reason="batch_too_large",
            context={"items": len(value), "limit": MAX_BATCH_ITEMS},
        )
    return value


def _addressed(message: dict[str, Any], recipient: Any) -> dict[str, Any]:
    """The message as its copy for `recipient`: to them alone, with their values on top."""
    if not isinstance(recipient, dict) or not isinstance(recipient.get("email"), str):
        raise _invalid(
            "A recipient must be an object with 'email' (and optionally 'name' and"
            " 'template_data').",
            field="recipients",
        )
    unknown = sorted(set(recipient) - RECIPIENT_FIELDS)
    if unknown:
        raise _invalid(
            f"A recipient has unknown fields: {', '.join(unknown)}.",
            field="recipients",
            context={"fields": unknown},
        )
    to: dict[str, Any] = {"email": recipient["email"]}
    if recipient.get("name") is not None:
        to["name"] = recipient["name"]
    copy = {**message, "to": [to]}
    own = recipient.get("template_data")
    if own is not None:
        shared = message.get("template_data")
        if not isinstance(own, dict):
            raise _invalid(
                "A recipient's 'template_data' must be an object.",
                field="recipients.template_data",
            )
        if shared is None:
            copy["template_data"] = own
        elif isinstance(shared, dict):
            copy["template_data"] = {**shared, **own}
        # else: a shared value that is no object stays, the copy's 400 as the message's.
    return copy


def _invalid(
    message: str,
    *,
    field: str | None = None,
    reason: str = "invalid_batch",
    context: dict[str, Any] | None = None,
) -> InvalidRequest:
    given = dict(context or {})
    if field is not None:
        given["field"] = field
    return InvalidRequest(message, reason=reason, context=given)
