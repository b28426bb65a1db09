"""Full template syntax (`"template_syntax": "jinja"`), sent through the API handler to a real
SMTP server on loopback: a stored Jinja template with a loop and a conditional, what arrived
in its text and HTML parts; and each refusal (sandbox escape, missing variable, syntax error,
runaway template) a 400 with no SMTP session at all."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.api import ApiResponse, call_api, create_plain_service
from tests.support.smtp_servers import CaptureServer

pytestmark = pytest.mark.usefixtures("aws")

RECEIPT = {
    "name": "receipt",
    "template_syntax": "jinja",
    "subject": "Your order {{ order_id }} ({{ items|length }} items)",
    "body_text": (
        "Hello {{ first_name }},\n"
        "{% for item in items %}- {{ item.qty }} x {{ item.name }}\n{% endfor %}"
        "{% if gift %}Gift wrapped.{% else %}No gift wrap.{% endif %}\n"
    ),
    "body_html": (
        "<p>Hello {{ first_name }}</p><ul>"
        "{% for item in items %}<li>{{ item.qty }} x {{ item.name }}</li>{% endfor %}</ul>"
        "{% if gift %}<p>Gift wrapped.</p>{% endif %}"
    ),
    "headers": {"X-Order": "{{ order_id }}"},
    "defaults": {"first_name": "customer"},
}
ITEMS = [{"name": "Tea", "qty": 2}, {"name": "Cups <fine> & saucers", "qty": 1}]
MESSAGE = {"to": "john@example.com", "template_syntax": "jinja"}


@pytest.fixture
def refusing(smtp_server: Callable[..., CaptureServer]) -> Iterator[CaptureServer]:
    """A server behind the service that no refused request may reach."""
    server = smtp_server()
    create_plain_service(server.port)
    yield server
    assert server.sessions == 0, "a refused request must not reach the SMTP server"


def _send(body: dict[str, Any]) -> ApiResponse:
    return call_api("POST", "/api/v2/email", body)


def test_a_stored_jinja_template_loops_and_branches_over_the_data(server: CaptureServer) -> None:
    created = call_api("POST", "/api/v2/system/email_template", RECEIPT)
    assert created.status == 201, created.body
    assert created.body["template_syntax"] == "jinja"

    response = _send(
        {
            "template": "receipt",
            "to": "john@example.com",
            "template_data": {"order_id": "A-7", "items": ITEMS, "gift": True},
        }
    )

    assert response.status == 200, response.body
    parsed = server.only_message.parsed()
    assert str(parsed["Subject"]) == "Your order A-7 (2 items)"
    assert str(parsed["X-Order"]) == "A-7"
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().replace("\r\n", "\n") == (
        "Hello customer,\n- 2 x Tea\n- 1 x Cups <fine> & saucers\nGift wrapped.\n"
    )
    assert html.get_content().strip() == (
        "<p>Hello customer</p><ul><li>2 x Tea</li>"
        "<li>1 x Cups &lt;fine&gt; &amp; saucers</li></ul><p>Gift wrapped.</p>"
    )


def test_data_that_looks_like_a_template_arrives_literally(server: CaptureServer) -> None:
    response = _send(
        {
            **MESSAGE,
            "subject": "{{ a }}",
            "body_text": "{{ a }} {{ b }}",
            "template_data": {"a": "{{ 7*7 }}", "b": "{placeholder}"},
        }
    )

    assert response.status == 200, response.body
    parsed = server.only_message.parsed()
    assert str(parsed["Subject"]) == "{{ 7*7 }}"
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_content().strip() == "{{ 7*7 }} {placeholder}"


def test_the_preview_renders_the_same_way(refusing: CaptureServer) -> None:
    body = {
        **MESSAGE,
        "body_html": "{% for i in items %}<b>{{ i.name }}</b>{% endfor %}",
        "template_data": {"items": ITEMS},
    }

    response = call_api("POST", "/api/v2/email/preview", body)

    assert response.status == 200, response.body
    assert response.body["body_html"].strip() == (
        "<b>Tea</b><b>Cups &lt;fine&gt; &amp; saucers</b>"
    )


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"body_text": "{{ ''.__class__.__mro__ }}"}, 400, "template_unsafe"),
        ({"body_text": "{{ cycler.__init__.__globals__ }}"}, 400, "template_unsafe"),
        ({"body_html": "{{ self._TemplateReference__context }}"}, 400, "template_unsafe"),
        ({"body_text": "{{ lipsum.__globals__ }}"}, 400, "template_unsafe"),
        ({"body_text": "{{ ''|attr('__class__') }}"}, 400, "template_unsafe"),
        ({"body_text": "{{ '{0.__class__}'.format(1) }}"}, 400, "template_unsafe"),
        ({"body_text": "Hi {{ first_name }}"}, 400, "template_variable_missing"),
        ({"body_text": "{% for x in %}"}, 400, "template_syntax_error"),
        ({"body_text": '{{ "x" * 10**9 }}'}, 400, "template_too_costly"),
        ({"body_text": '{{ "x"|center(10**9) }}'}, 400, "template_too_costly"),
        (
            {
                "body_text": '{% set ns = namespace(s="x") %}{% for i in range(40) %}'
                "{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
            },
            400,
            "template_too_costly",
        ),
        (
            {
                "body_text": "{% for a in range(100000) %}{% for b in range(100000) %}"
                "{% endfor %}{% endfor %}"
            },
            400,
            "template_too_costly",
        ),
        ({"body_text": "Hi", "template_syntax": "placeholders"}, 400, "invalid_template_data"),
    ],
)
def test_each_refusal_sends_nothing(
    refusing: CaptureServer, body: dict[str, Any], status: int, reason: str
) -> None:
    started = time.monotonic()

    response = _send({**MESSAGE, "template_data": {"items": ITEMS}, **body})

    assert (response.status, response.reason) == (status, reason), response.body
    assert time.monotonic() - started < 10  # a safety net only: the limits allow about 1 s


def test_a_template_whose_output_passes_the_size_limit_is_a_413_and_sends_nothing(
    refusing: CaptureServer, configure: Callable[..., None]
) -> None:
    # The render's 1 s budget is wall-clock: under coverage on a loaded machine this loop
    # reached it before the size limit (a 400 template_too_costly). The size limit is the point.
    configure(TEMPLATE_RENDER_SECONDS="30")
    body = {"body_text": "{% for a in range(100000) %}{{ '0123456789' * 100 }}{% endfor %}"}

    response = _send({**MESSAGE, **body})

    assert (response.status, response.reason) == (413, "message_too_large"), response.body


def test_a_missing_variable_is_named_in_the_answer(refusing: CaptureServer) -> None:
    response = _send({**MESSAGE, "body_html": "<p>{{ user.first_name }}</p>"})

    assert response.status == 400, response.body
    assert response.body["error"]["context"] == {"variable": "user", "field": "body_html"}


def test_a_stored_template_that_does_not_compile_is_refused() -> None:
    response = call_api(
        "POST",
        "/api/v2/system/email_template",
        {**RECEIPT, "body_text": "line one\n{% if gift %}never closed"},
    )

    assert (response.status, response.reason) == (400, "template_syntax_error"), response.body
    assert response.body["error"]["context"] == {"field": "body_text", "line": 2}
