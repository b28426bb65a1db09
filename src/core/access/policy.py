"""The send policy of a role: which services, which senders, how many recipients.

Every check runs before any SMTP connection, and each refusal has its own reason.
"""

from __future__ import annotations

from core.access.authentication import Principal
from core.access.model import Role
from core.errors import Forbidden
from core.message import Message
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


# What a key limited to templates may not change in one: what the message says.
TEMPLATE_CONTENT = ("subject", "body_text", "body_html")


def check_template(role: Role, request: SendRequest, template: EmailTemplate | None) -> None:
    """A role limited to templates (`templates`) sends only through those, and only what they
    say: the request brings recipients and placeholder values, not a subject or a body."""
    allowed = role.templates
    if allowed is None:
        return
    if template is None:
        raise Forbidden(
            "This API key may send only through a stored template ('template' or 'template_id').",
            reason="template_required",
        )
    if ANY not in allowed and template.name not in allowed:
        raise Forbidden(
            f"This API key may not send with template '{template.name}'.",
            reason="template_forbidden",
            context={"template": template.name},
        )
    changed = [field for field in TEMPLATE_CONTENT if getattr(request, field)]
    if changed:
        raise Forbidden(
            "This API key may not change a template's subject or bodies.",
            reason="template_content_locked",
            context={"fields": changed},
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
