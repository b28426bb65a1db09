"""The send policy of a role: which services, which senders, how many recipients.

Every check runs before any SMTP connection, and each refusal has its own reason.
"""

from __future__ import annotations

from typing import Any

from core.access.authentication import Principal
from core.access.model import Role
from core.errors import Forbidden
from core.message import Message
from core.placeholder_values import ATTACHMENT_REFERENCES, MESSAGE_TEXT_FIELDS
from core.send_request import SendRequest
from core.services.model import Service
from core.templates.model import EmailTemplate

ANY = "*"


def require_admin(principal: Principal) -> None:
    if not principal.role.admin:
        raise Forbidden("This API key may not administer the email API.", reason="admin_only")


def check_service(role: Role, service_name: str) -> None:
    """403 before the service is even looked up, so a role cannot probe which names exist."""
    if ANY not in role.services and service_name not in role.services:
        raise Forbidden(
            f"This API key may not send through service '{service_name}'.",
            reason="service_forbidden",
            context={"service": service_name},
        )


def check_message(role: Role, service: Service, message: Message) -> None:
    """The sender and reply-to the message carries, and its number of recipients."""
    check_addressing(
        role,
        service,
        sender=message.sender.email,
        reply_to=message.reply_to.email if message.reply_to is not None else None,
        recipient_count=len(message.envelope_recipients()),
    )


def check_addressing(
    role: Role, service: Service, *, sender: str, reply_to: str | None, recipient_count: int
) -> None:
    """The role may send as `sender` (and with `reply_to`) to that many recipients: known
    before a message is composed, so a refused request does no work (issue 16)."""
    senders = {"from_email": sender}
    if reply_to is not None:
        senders["reply_to_email"] = reply_to
    for field, address in senders.items():
        if not sender_allowed(role, service, field, address):
            raise Forbidden(
                f"This API key may not send as '{address}'.",
                reason="sender_forbidden",
                context={"field": field, "address": address},
            )
    if role.max_recipients is not None and recipient_count > role.max_recipients:
        raise Forbidden(
            f"{recipient_count} recipients is more than this API key's limit of"
            f" {role.max_recipients}.",
            reason="too_many_recipients",
            context={"recipients": recipient_count, "limit": role.max_recipients},
        )


# What a key limited to templates may not give, even empty or null: every field that changes
# what the mail says or who it is from (its own header fields and unsubscribe links included).
# It gives recipients and placeholder values, nothing else.
TEMPLATE_LOCKED_FIELDS = (
    *MESSAGE_TEXT_FIELDS,
    "attachments",
    *ATTACHMENT_REFERENCES,
    "headers",
    "list_unsubscribe",
)


def limited_to_templates(role: Role) -> bool:
    return role.templates is not None


def check_template_request(role: Role, request: SendRequest) -> None:
    """Before any template is looked up: a role limited to templates (`templates`) names one
    it may use and gives nothing of what the mail says (`template_content_locked`, naming each
    field given, whatever its value)."""
    allowed = role.templates
    if allowed is None:
        return
    if not request.names_template:
        raise Forbidden(
            "This API key may send only through a stored template ('template' or 'template_id').",
            reason="template_required",
        )
    given = request.model_fields_set | set(request.model_extra or {})
    locked = [field for field in TEMPLATE_LOCKED_FIELDS if field in given]
    if locked:
        names = ", ".join(f"'{field}'" for field in locked)
        raise Forbidden(
            f"This API key sends only what its templates say: it may not give {names}.",
            reason="template_content_locked",
            context={"fields": locked},
        )
    if request.template is not None and not template_allowed(role, request.template):
        raise template_forbidden(request)


def check_template(role: Role, request: SendRequest, template: EmailTemplate) -> None:
    """The template `request` named, as stored, is one the role may use."""
    if not template_allowed(role, template.name):
        raise template_forbidden(request)


def check_queued_template(role: Role, name: str | None) -> None:
    """A queued message sent with the template `name` (None: with none) is one the role may
    send now: a lock added or narrowed since it was accepted holds for it too."""
    if not template_allowed(role, name):
        raise Forbidden(
            f"This API key may no longer send with template '{name}'."
            if name
            else "This API key may now send only through a stored template.",
            reason="template_forbidden" if name else "template_required",
            context={"template": name},
        )


def template_allowed(role: Role, name: str | None) -> bool:
    """Whether the role may send with the template named `name` (None: no template)."""
    allowed = role.templates
    if allowed is None:
        return True
    return name is not None and (ANY in allowed or name in allowed)


def template_forbidden(request: SendRequest) -> Forbidden:
    """The one answer for a template a limited key may not use and for one that does not
    exist, told from nothing but what the request gave: else it could list the names."""
    context: dict[str, Any]
    if request.template is not None:
        named, context = f"template '{request.template}'", {"template": request.template}
    else:
        named, context = f"template id {request.template_id}", {"template_id": request.template_id}
    return Forbidden(
        f"This API key may not send with {named}.", reason="template_forbidden", context=context
    )


def sender_allowed(role: Role, service: Service, field: str, address: str) -> bool:
    """Matches the role's rules; with none, only the service's own default is allowed."""
    if not role.senders:
        default = getattr(service.config, field)
        return default is not None and default.lower() == address.lower()
    address = address.lower()
    domain = address.rpartition("@")[2]
    for rule in role.senders:
        rule = rule.lower()
        if rule in (ANY, address, f"*@{domain}"):
            return True
    return False
