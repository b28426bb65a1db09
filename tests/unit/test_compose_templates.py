"""Composing with a stored template and the service's parameters, in DreamFactory's order:
the service's `parameters` < the template's fields < the template's `defaults` < the request
(and `template_data`, which wins over everything)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.access import policy
from core.access.model import Role
from core.addresses import Mailbox
from core.composition.compose import compose
from core.errors import Forbidden, InvalidRequest
from core.message import Message
from core.send_request import SendRequest, parse_send_request
from core.services.model import Service
from core.templates.model import EmailTemplate
from tests.support.fake_services import smtp_service

NOW = datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC)
SERVICE = smtp_service(
    from_name="Example App",
    parameters=[
        {"name": "company", "value": "Acme (service)"},
        {"name": "first_name", "value": "customer (service)"},
        {"name": "greeting", "value": "Hello (service)"},
    ],
)
WELCOME = EmailTemplate(
    id=7,
    name="welcome",
    description="the welcome mail",
    to=[{"email": "team@example.com", "name": "Team"}],
    subject="Welcome to {company}, {first_name}",
    body_text="{greeting} {first_name}, this is {name} from {company}. {from_name}",
    body_html="<p>{greeting} {first_name}</p>",
    from_name="Welcome Desk",
    defaults={"first_name": "there (default)", "greeting": "Hi (default)"},
)


def _request(complete: bool = False, **body: Any) -> SendRequest:
    return parse_send_request({"template": "welcome", **body}, complete=complete)


def _compose(
    request: SendRequest, template: EmailTemplate | None = WELCOME, service: Service = SERVICE
) -> Message:
    return compose(request, service, template=template, now=NOW, size_limit=100_000)


def test_a_template_alone_makes_the_whole_message() -> None:
    message = _compose(_request())

    assert message.to == [Mailbox("team@example.com", "Team")]
    assert message.sender == Mailbox("noreply@example.com", "Welcome Desk")
    # parameters < template fields < defaults: the defaults win over the service's values,
    # the service's fill what nothing else names; the template's own name fills {name}.
    assert message.subject == "Welcome to Acme (service), there (default)"
    assert message.body_text == (
        "Hi (default) there (default), this is welcome from Acme (service). Welcome Desk"
    )


def test_the_request_wins_over_the_templates_fields_and_defaults() -> None:
    message = _compose(
        _request(
            to="john@example.com",
            subject="Your order, {first_name}",
            first_name="John",
            from_name="Billing",
        )
    )

    assert message.to == [Mailbox("john@example.com", "")]
    assert message.subject == "Your order, John"
    assert message.sender.name == "Billing"
    # A declared field of the request is a placeholder value too, as in DreamFactory.
    assert message.body_text is not None
    assert message.body_text.endswith("Billing")


def test_template_data_wins_over_a_top_level_field_of_the_same_name() -> None:
    message = _compose(_request(first_name="John", template_data={"first_name": "Johnny"}))

    assert message.subject == "Welcome to Acme (service), Johnny"


def test_a_request_name_overrides_the_templates_name_placeholder() -> None:
    message = _compose(_request(name="Ann"))

    assert message.body_text is not None
    assert "this is Ann from" in message.body_text


def test_from_name_is_substituted_without_a_template() -> None:
    request = parse_send_request(
        {"to": "john@example.com", "from_name": "Ann", "body_text": "Regards, {from_name}"}
    )

    assert _compose(request, template=None).body_text == "Regards, Ann"


def test_values_in_html_are_escaped_unless_the_service_asks_for_raw_values() -> None:
    request = _request(first_name="<b>John</b>")
    raw_service = smtp_service(escape_html_values=False)

    assert _compose(request).body_html == "<p>Hi (default) &lt;b&gt;John&lt;/b&gt;</p>"
    assert _compose(request, service=raw_service).body_html == "<p>Hi (default) <b>John</b></p>"


def test_a_template_without_recipients_needs_them_from_the_request() -> None:
    bare = WELCOME.model_copy(update={"to": None})

    with pytest.raises(InvalidRequest) as refused:
        _compose(_request(), template=bare)

    assert refused.value.reason == "no_recipient"
    assert _compose(_request(to="ann@example.com"), template=bare).to == [
        Mailbox("ann@example.com", "")
    ]


# --- a role limited to templates ---------------------------------------------------------------


def _role(templates: list[str] | None) -> Role:
    return Role.model_validate({"name": "app", "services": ["*"], "templates": templates})


def _refusal(role: Role, request: SendRequest, template: EmailTemplate | None) -> str:
    with pytest.raises(Forbidden) as refused:
        _check(role, request, template)
    return refused.value.reason


def _check(role: Role, request: SendRequest, template: EmailTemplate | None) -> None:
    """What the send path asks of the policy: the request first, then the stored template."""
    policy.check_template_request(role, request)
    if template is not None:
        policy.check_template(role, request, template)


def test_a_role_without_template_limits_sends_anything() -> None:
    _check(
        _role(None),
        parse_send_request({"to": "a@example.com", "subject": "Hi", "body_text": "x"}),
        None,
    )


def test_a_role_limited_to_templates_needs_one_of_them() -> None:
    plain = parse_send_request({"to": "john@example.com", "body_text": "Hi"})

    assert _refusal(_role(["welcome"]), plain, None) == "template_required"
    assert _refusal(_role(["receipt"]), _request(), WELCOME) == "template_forbidden"
    _check(_role(["welcome"]), _request(first_name="John"), WELCOME)
    _check(_role(["*"]), _request(to="ann@example.com"), WELCOME)


def test_a_template_found_by_id_is_held_to_its_stored_name() -> None:
    by_id = parse_send_request({"template_id": 7}, complete=False)

    assert _refusal(_role(["receipt"]), by_id, WELCOME) == "template_forbidden"


# Each locked field, empty (or null where the request takes null) and filled.
_LOCKED_GIVEN: list[tuple[str, Any]] = [
    ("subject", ""),
    ("subject", "Hi"),
    ("body_text", None),
    ("body_text", ""),
    ("body_html", None),
    ("body_html", "<p>x</p>"),
    ("from_name", None),
    ("from_name", ""),
    ("from_email", None),
    ("from_email", ""),
    ("from_email", "boss@example.com"),
    ("reply_to_name", ""),
    ("reply_to_email", None),
    ("attachments", []),
    ("attachment", ""),
    ("attachment", "https://files.example/a.pdf"),
    ("import_url", None),
    ("headers", {}),
    ("headers", {"X-Campaign": "spring"}),
    ("list_unsubscribe", "https://example.com/u"),
]


def test_every_locked_field_is_tried() -> None:
    assert {field for field, _ in _LOCKED_GIVEN} == set(policy.TEMPLATE_LOCKED_FIELDS)


@pytest.mark.parametrize(("field", "value"), _LOCKED_GIVEN)
def test_a_role_limited_to_templates_may_give_none_of_the_locked_fields(
    field: str, value: Any
) -> None:
    """Present is enough: an empty or null field is refused as surely as a filled one."""
    with pytest.raises(Forbidden) as refused:
        policy.check_template_request(_role(["welcome"]), _request(**{field: value}))

    assert (refused.value.reason, refused.value.context) == (
        "template_content_locked",
        {"fields": [field]},
    )


def test_a_forbidden_template_is_told_from_the_request_alone() -> None:
    by_name = policy.template_forbidden(_request())
    by_id = policy.template_forbidden(parse_send_request({"template_id": 7}, complete=False))

    assert (by_name.message, by_name.context) == (
        "This API key may not send with template 'welcome'.",
        {"template": "welcome"},
    )
    assert (by_id.message, by_id.context) == (
        "This API key may not send with template id 7.",
        {"template_id": 7},
    )
