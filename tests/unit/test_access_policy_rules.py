"""The send policy of a role, with in-memory roles and services: who may send what, where."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.access import policy
from core.access.authentication import Principal
from core.access.model import Role, bootstrap_role
from core.addresses import Mailbox
from core.errors import Forbidden
from core.message import Message
from core.send_request import parse_send_request
from core.services.model import Service
from core.transport.base import Deadline
from tests.support.fake_services import smtp_service
from tests.support.send_path import SendPath

# The service's defaults: from noreply@example.com, reply-to support@example.com.
SERVICE = smtp_service(reply_to_email="support@example.com")
NO_REPLY_TO = smtp_service()


def _role(**fields: Any) -> Role:
    return Role.model_validate({"name": "app", "services": ["email"], **fields})


def _message(
    sender: str = "noreply@example.com", reply_to: str | None = None, *, recipients: int = 1
) -> Message:
    """A message to `recipients` distinct addresses, spread over to, cc and bcc."""
    mailboxes = [Mailbox(f"rcpt{n}@example.com") for n in range(recipients)]
    return Message(
        sender=Mailbox(sender),
        to=mailboxes[0::3],
        cc=mailboxes[1::3],
        bcc=mailboxes[2::3],
        reply_to=Mailbox(reply_to) if reply_to else None,
        subject="Hi",
        body_text="Hi",
        message_id="<fixed@example.com>",
        date=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
    )


def _refusal(role: Role, message: Message, service: Service = SERVICE) -> Forbidden:
    with pytest.raises(Forbidden) as raised:
        policy.check_message(role, service, message)
    return raised.value


# --- sender rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        pytest.param("billing@example.com", True, id="exact"),
        pytest.param("Billing@Example.COM", True, id="exact-any-case"),
        pytest.param("billing2@example.com", False, id="other-local-part"),
        pytest.param("billing@example.org", False, id="other-domain"),
        pytest.param("anyone@corp.example", True, id="domain-pattern"),
        pytest.param("ANYONE@CORP.EXAMPLE", True, id="domain-pattern-any-case"),
        pytest.param("anyone@mail.corp.example", False, id="subdomain"),
        pytest.param("anyone@evilcorp.example", False, id="lookalike-prefix"),
        pytest.param("anyone@corp.example.evil.org", False, id="lookalike-suffix"),
        pytest.param("anyone@corp-example", False, id="lookalike-no-dot"),
        pytest.param("corp.example@evil.org", False, id="domain-as-local-part"),
    ],
)
def test_sender_rules(address: str, allowed: bool) -> None:
    role = _role(senders=["billing@example.com", "*@corp.example"])

    for field in ("from_email", "reply_to_email"):
        assert policy.sender_allowed(role, SERVICE, field, address) is allowed


def test_any_sender() -> None:
    role = _role(senders=["*"])

    assert policy.sender_allowed(role, SERVICE, "from_email", "whoever@anywhere.example")


def test_rules_are_normalized_when_the_role_is_made() -> None:
    role = _role(senders=["Billing@EXAMPLE.com", "*@Corp.Example"])

    # email-validator lower-cases domains, never local parts; matching ignores case anyway.
    assert role.senders == ["Billing@example.com", "*@corp.example"]
    assert policy.sender_allowed(role, SERVICE, "from_email", "billing@example.com")


def test_without_rules_only_the_services_own_defaults() -> None:
    role = _role()

    assert policy.sender_allowed(role, SERVICE, "from_email", "noreply@example.com")
    assert policy.sender_allowed(role, SERVICE, "from_email", "NoReply@Example.com")
    assert policy.sender_allowed(role, SERVICE, "reply_to_email", "support@example.com")
    assert not policy.sender_allowed(role, SERVICE, "from_email", "support@example.com")
    assert not policy.sender_allowed(role, SERVICE, "reply_to_email", "noreply@example.com")
    assert not policy.sender_allowed(role, SERVICE, "from_email", "billing@example.com")
    # No default reply-to: a role without rules may not set one at all.
    assert not policy.sender_allowed(role, NO_REPLY_TO, "reply_to_email", "support@example.com")


def test_rules_apply_to_the_service_default_too() -> None:
    role = _role(senders=["billing@example.com"])

    assert not policy.sender_allowed(role, SERVICE, "from_email", "noreply@example.com")


# --- the whole message -------------------------------------------------------------------------


def test_a_message_within_the_rules_passes() -> None:
    role = _role(senders=["*@example.com"], max_recipients=3)

    policy.check_message(
        role, SERVICE, _message("billing@example.com", "ar@example.com", recipients=3)
    )


def test_the_sender_is_refused() -> None:
    error = _refusal(_role(senders=["billing@example.com"]), _message("ceo@example.com"))

    assert (error.status, error.reason) == (403, "sender_forbidden")
    assert error.context == {"field": "from_email", "address": "ceo@example.com"}


def test_the_reply_to_is_refused() -> None:
    role = _role(senders=["billing@example.com"])

    error = _refusal(role, _message("billing@example.com", "phish@evil.example"))

    assert error.reason == "sender_forbidden"
    assert error.context == {"field": "reply_to_email", "address": "phish@evil.example"}


def test_a_role_without_rules_may_not_override_the_sender() -> None:
    role = _role()

    policy.check_message(role, SERVICE, _message("noreply@example.com", "support@example.com"))
    assert _refusal(role, _message("other@example.com")).context["field"] == "from_email"
    refused = _refusal(role, _message("noreply@example.com", "other@example.com"))
    assert refused.context["field"] == "reply_to_email"


def test_too_many_recipients() -> None:
    role = _role(senders=["*"], max_recipients=2)
    policy.check_message(role, SERVICE, _message(recipients=2))

    error = _refusal(role, _message(recipients=3))

    assert (error.status, error.reason) == (403, "too_many_recipients")
    assert error.context == {"recipients": 3, "limit": 2}


def test_recipients_are_counted_once_across_to_cc_and_bcc() -> None:
    role = _role(senders=["*"], max_recipients=2)
    john, jane = Mailbox("john@example.com"), Mailbox("jane@example.com")
    message = _message().model_copy(update={"to": [john, jane], "cc": [jane], "bcc": [john]})

    policy.check_message(role, SERVICE, message)
    error = _refusal(role, message.model_copy(update={"bcc": [Mailbox("hidden@example.com")]}))

    assert error.context == {"recipients": 3, "limit": 2}


def test_no_recipient_cap_without_max_recipients() -> None:
    policy.check_message(_role(senders=["*"]), SERVICE, _message(recipients=10_000))


# --- services and administration ---------------------------------------------------------------


def test_service_rules() -> None:
    policy.check_service(_role(services=["email", "bulk"]), "bulk")
    policy.check_service(_role(services=["*"]), "anything")

    with pytest.raises(Forbidden) as raised:
        policy.check_service(_role(services=["email"]), "bulk")

    assert (raised.value.reason, raised.value.context) == ("service_forbidden", {"service": "bulk"})


def test_a_role_without_services_may_send_through_none() -> None:
    with pytest.raises(Forbidden):
        policy.check_service(_role(services=[]), "email")


def test_admin_only() -> None:
    policy.require_admin(Principal.bootstrap())
    policy.require_admin(Principal("k", _role(admin=True)))

    with pytest.raises(Forbidden) as raised:
        policy.require_admin(Principal("k", _role()))

    assert (raised.value.status, raised.value.reason) == (403, "admin_only")


def test_the_bootstrap_role_may_do_everything() -> None:
    role = bootstrap_role()

    policy.check_service(role, "anything")
    policy.check_message(
        role, SERVICE, _message("ceo@elsewhere.example", "x@y.example", recipients=500)
    )
    assert role.admin
    assert role.rate_limits.windows() == []


# --- in the send path: every refusal before a transport exists ---------------------------------


@pytest.mark.parametrize(
    ("role", "service", "body", "reason"),
    [
        pytest.param(_role(services=["bulk"]), "email", {}, "service_forbidden", id="service"),
        pytest.param(_role(services=["bulk"]), "nope", {}, "service_forbidden", id="no-service"),
        pytest.param(
            _role(), "email", {"from_email": "x@example.com"}, "sender_forbidden", id="from"
        ),
        pytest.param(
            _role(senders=["*@example.com"]),
            "email",
            {"reply_to_email": "x@example.net"},
            "sender_forbidden",
            id="reply-to",
        ),
        pytest.param(
            _role(max_recipients=1),
            "email",
            {"cc": "jane@example.com"},
            "too_many_recipients",
            id="recipients",
        ),
    ],
)
def test_refusals_come_before_any_transport(
    role: Role, service: str, body: dict[str, Any], reason: str
) -> None:
    path = SendPath()
    path.services.add(SERVICE)
    request = parse_send_request({"to": "john@example.com", "body_text": "Hi", **body})

    with pytest.raises(Forbidden) as raised:
        path.mailer().send(Principal("k", role), service, request, Deadline.after(5))

    assert raised.value.reason == reason
    assert path.outbox.services == []
    assert path.outbox.handed == []
    assert path.records.records == {}
    assert path.limiter.calls == []  # and before any rate limit is touched
