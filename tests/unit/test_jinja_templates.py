"""Full template syntax (`"template_syntax": "jinja"`): Jinja2 in a sandbox, through `compose`.

What a caller sees: the rendered texts, or the 400 (413) and its reason. Each runaway template
is timed only as a safety net: the assertion is the refusal; the bound is generous for a
machine shared by many test runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from typing import Any

import pytest

from core.composition.compose import compose
from core.composition.jinja.limits import RenderLimits
from core.errors import EmailApiError, InvalidRequest, MessageTooLarge
from core.message import Message
from core.send_request import parse_send_request
from core.templates.input import TemplateInput
from core.templates.model import EmailTemplate
from tests.support.fake_services import smtp_service

NOW = datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC)
SERVICE = smtp_service(parameters=[{"name": "company", "value": "Acme"}])
SIZE_LIMIT = 5 * 1024 * 1024
ITEMS = [{"name": "Tea", "qty": 2, "price": 3.5}, {"name": "Cake <b>", "qty": 1, "price": 4}]
# Far above the ~1 s the limits allow; only there so a broken guard fails instead of hanging.
# (Under `make test`'s coverage tracing and tracemalloc, "sum of lists" takes 5.6 s on an idle
# machine, and took 10.75 s in a full run: the bound was 10.)
SAFETY_SECONDS = 60


def _compose(stored: EmailTemplate | None = None, **body: Any) -> Message:
    """A message from `body` (Jinja unless it says otherwise, or it names `stored`)."""
    given = {"to": "john@example.com", **body}
    if stored is None:
        given.setdefault("template_syntax", "jinja")
        given.setdefault("body_text", "Hi")
    request = parse_send_request(given, complete=stored is None)
    return compose(request, SERVICE, template=stored, now=NOW, size_limit=SIZE_LIMIT)


def _text(body_text: str, **data: Any) -> str:
    text = _compose(body_text=body_text, template_data=data).body_text
    assert text is not None
    return text


def _refused(body_text: str, **data: Any) -> EmailApiError:
    with pytest.raises(EmailApiError) as raised:
        _compose(body_text=body_text, template_data=data)
    return raised.value


# --- what a template can do -------------------------------------------------------------------


def test_loops_conditionals_and_filters() -> None:
    text = _text(
        "{% for item in items %}{{ loop.index }}. {{ item.name|upper }} x{{ item.qty }}"
        " = {{ '%.2f'|format(item.qty * item.price) }}\n{% endfor %}"
        "{% if items|length > 1 %}{{ items|length }} items{% else %}one item{% endif %}"
        " for {{ company }}",
        items=ITEMS,
    )

    assert text == "1. TEA x2 = 7.00\n2. CAKE <B> x1 = 4.00\n2 items for Acme"


def test_numbers_stay_numbers_and_a_missing_optional_value_can_be_tested() -> None:
    text = _text(
        "{% if count > 9 %}many{% endif %}{{ nickname|default('friend') }}"
        "{% if coupon is defined %}{{ coupon }}{% endif %}",
        count=10,
    )

    assert text == "manyfriend"


def test_values_are_never_rendered_twice() -> None:
    text = _text("{{ a }} {{ b }} {{ c.x }}", a="{{ 7*7 }}", b="{% for i in x %}", c={"x": "{a}"})

    assert text == "{{ 7*7 }} {% for i in x %} {a}"


def test_values_are_escaped_in_the_html_body_only() -> None:
    message = _compose(
        subject="{{ who }} & co",
        body_text="{{ who }}",
        body_html="<p>{{ who }} {{ trusted|safe }}</p>",
        headers={"X-Who": "{{ who }}"},
        template_data={"who": '<Tom & "Jerry">', "trusted": "<b>ok</b>"},
    )

    assert message.subject == '<Tom & "Jerry"> & co'
    assert message.body_text == '<Tom & "Jerry">'
    assert message.body_html == "<p>&lt;Tom &amp; &#34;Jerry&#34;&gt; <b>ok</b></p>"
    assert ("X-Who", '<Tom & "Jerry">') in message.headers


def test_a_rendered_subject_or_header_is_checked_as_one_line() -> None:
    with pytest.raises(InvalidRequest) as raised:
        _compose(subject="{{ s }}", template_data={"s": "Hi\r\nBcc: x@example.com"})
    assert raised.value.context["field"] == "subject"

    with pytest.raises(InvalidRequest):
        _compose(headers={"X-A": "{{ s }}"}, template_data={"s": "a\nBcc: x@example.com"})


def test_a_stored_jinja_template_stays_jinja_and_its_layers_are_its_variables() -> None:
    template = EmailTemplate(
        id=1,
        name="receipt",
        template_syntax="jinja",
        subject="Receipt for {{ first_name }}",
        body_text="{% for i in items %}{{ i.name }};{% endfor %}{{ greeting }} {{ company }}",
        defaults={"greeting": "Thanks", "first_name": "customer"},
    )
    request: dict[str, Any] = {"template": "receipt", "template_data": {"items": ITEMS}}
    message = _compose(template, **request)

    assert message.subject == "Receipt for customer"
    assert message.body_text == "Tea;Cake <b>;Thanks Acme"

    # The request may ask for placeholders instead: the template's texts are then literal.
    literal = _compose(template, template_syntax="placeholders", template="receipt")
    assert literal.subject == "Receipt for {{ first_name }}"
    with pytest.raises(InvalidRequest) as raised:
        _compose(template, **{**request, "template_syntax": "placeholders"})
    assert raised.value.reason == "invalid_template_data"


@pytest.mark.parametrize(
    ("syntax", "body"), [("jinja", "{{ from_name }}"), ("placeholders", "{from_name}")]
)
def test_a_templates_defaults_win_over_its_fields_in_either_syntax(syntax: str, body: str) -> None:
    template = EmailTemplate(
        id=1,
        name="t",
        template_syntax=syntax,
        body_text=body,
        from_name="Welcome Desk",
        defaults={"from_name": "Default Name"},
    )

    assert _compose(template, template="t").body_text == "Default Name"


def test_a_stored_template_with_a_syntax_error_is_not_stored() -> None:
    with pytest.raises(InvalidRequest) as raised:
        TemplateInput.model_validate(
            {"name": "t", "template_syntax": "jinja", "body_html": "<p>\n{% if x %}</p>"}
        )

    assert raised.value.reason == "template_syntax_error"
    assert raised.value.context == {"field": "body_html", "line": 2}


def test_the_placeholder_path_does_not_load_jinja() -> None:
    script = (
        "import sys, handlers.api\n"
        "from datetime import UTC, datetime\n"
        "from core.composition.compose import compose\n"
        "from core.send_request import parse_send_request\n"
        "from tests.support.fake_services import smtp_service\n"
        "r = parse_send_request({'to': 'a@example.com', 'body_text': 'Hi {n}', 'n': 1})\n"
        "compose(r, smtp_service(), now=datetime.now(UTC), size_limit=1000)\n"
        "print('jinja2' in sys.modules)\n"
    )
    paths = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    run = subprocess.run(  # noqa: S603  # this interpreter, a fixed script
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=paths
    )

    assert run.stdout.strip() == "False"


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ joiner.__init__.__globals__ }}",
        "{{ self._TemplateReference__context }}",
        "{{ lipsum.__globals__ }}",
        "{{ ''|attr('__class__') }}",
        "{{ '{0.__class__}'.format(x) }}",
        "{{ '{0.__class__.__init__.__globals__}'.format(items) }}",
        "{{ items.append(1) }}",
        "{{ range.__globals__ }}",
        "{{ namespace.__init__ }}",
    ],
)
def test_attribute_access_escapes_are_refused(source: str) -> None:
    error = _refused(source, x=1, items=[1])

    assert (error.status, error.reason) == (400, "template_unsafe")
    assert error.context == {"field": "body_text"}


def test_a_missing_variable_is_named() -> None:
    error = _refused("Hello {{ first_name }}")

    assert (error.status, error.reason) == (400, "template_variable_missing")
    assert error.context == {"variable": "first_name", "field": "body_text"}
    assert "first_name" in error.message

    in_html = _compose_refused(body_html="<p>{{ order.total }}</p>", template_data={"order": {}})
    assert in_html.reason == "template_variable_missing"
    assert in_html.context == {"variable": "total", "field": "body_html"}


def _compose_refused(**body: Any) -> EmailApiError:
    with pytest.raises(EmailApiError) as raised:
        _compose(**body)
    return raised.value


def test_a_syntax_error_names_the_field_and_line() -> None:
    error = _compose_refused(subject="Hi", body_html="<p>\n\n{% for x in %}</p>")

    assert (error.status, error.reason) == (400, "template_syntax_error")
    assert error.context == {"field": "body_html", "line": 3}


def test_a_method_is_never_written_out() -> None:
    # `order.items` is the dict's method before its key: Jinja's rule. Its repr would show a
    # memory address; the answer says how to reach the key instead.
    error = _refused("{{ order.items }}", order={"items": [1]})

    assert error.reason == "template_render_error"
    assert "order['items']" in error.message
    assert _text("{{ order['items'][0] }}", order={"items": [1]}) == "1"


def test_include_and_extends_find_nothing() -> None:
    assert _refused("{% include 'x' %}").reason == "template_render_error"
    assert _refused("{% extends 'x' %}").reason == "template_render_error"


RUNAWAYS = {
    "repeat": '{{ "x" * 10**9 }}',
    "doubling with ~": '{% set ns = namespace(s="x") %}{% for i in range(40) %}'
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "doubling with +": '{% set ns = namespace(s="x") %}{% for i in range(40) %}'
    "{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "list doubling": "{% set ns = namespace(s=[1]) %}{% for i in range(40) %}"
    "{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "center": '{{ "x"|center(10**9) }}',
    "center method": '{{ "x".center(99999) * 99999 }}',
    "format width": '{{ "{:>999999999}".format(1) }}',
    "nested format width": '{{ "{:>{w}}".format(1, w=10**9) }}',
    "printf width": '{{ "%999999999d" % 1 }}',
    "printf star": '{{ "%*d" % (10**9, 1) }}',
    "format filter": '{{ "%999999999s"|format(1) }}',
    "range": "{{ range(10**9)|list|length }}",
    "deep loop": "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    "power": "{{ 99**99**9 }}",
    "replace": '{% set s = "x" * 99999 %}{{ s.replace("", s)|length }}',
    "replace filter": '{% set s = "x" * 99999 %}{{ s|replace("x", s)|length }}',
    "indent": '{% set s = "\n" * 99999 %}{{ s|indent(99999)|length }}',
    "join": '{% set s = "x" * 99999 %}{{ s.join(range(99999))|length }}',
    "macro doubling": "{% macro d(n) %}{% if n %}{{ d(n-1) }}{{ d(n-1) }}{% else %}"
    '{{ "y" * 99999 }}{% endif %}{% endmacro %}{{ d(30)|length }}',
    "block set": '{% set big = "y" * 99999 %}{% set s %}{% for i in range(99999) %}'
    "{{ big }}{% endfor %}{% endset %}{{ s|length }}",
    "recursion": "{% macro d(n) %}{{ d(n + 1) }}{% endmacro %}{{ d(1) }}",
    "repr of a big list": '{% set s = ["y" * 99999] * 9999 %}{{ s|string|length }}',
    "expandtabs": '{{ ("\t" * 99999).expandtabs(99999)|length }}',
    "lipsum": "{{ lipsum(99999)|length }}",
    "one huge value": '{{ ("x" * 99999) * 99 }}',
    "printing a list of copies": "{% set s = 'x' * 99999 %}{{ [" + ", ".join(["s"] * 400) + "] }}",
    "slice": "{{ [1]|slice(10**6)|list|length }}",
    "sum of lists": "{{ range(99999)|batch(1)|sum(start=[])|length }}",
    "slow filter": '{% set s = "a " * 99999 %}{{ (s ~ s)|wordwrap(1)|length }}',
    "recursive loop": "{% for x in [1] recursive %}{{ loop([1, 1]) }}{% endfor %}",
}


@pytest.mark.parametrize("source", RUNAWAYS.values(), ids=RUNAWAYS.keys())
def test_a_runaway_template_is_refused_fast_and_small(source: str) -> None:
    tracemalloc.start()
    started = time.monotonic()
    try:
        error = _refused(source)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (error.status, error.reason) == (400, "template_too_costly")
    assert error.context["field"] == "body_text"
    assert time.monotonic() - started < SAFETY_SECONDS
    assert peak < 100 * 1024 * 1024


COSTLY_TO_COMPILE = {
    "many tags": ("{{ a }}" * 3000, "tokens"),
    "a long expression": ("{{ " + "+".join(["1"] * 2400) + " }}", "depth"),
    "deep parentheses": ("{{ " + "(" * 200 + "1" + ")" * 200 + " }}", "depth"),
    "deep blocks": ("{% if a %}" * 100 + "{% endif %}" * 100, "depth"),
    "a huge text": ("x" * (1024 * 1024 + 1), "characters"),
    "braces": ("{" * 1_000_000, "tokens"),
}


@pytest.mark.parametrize(
    ("source", "limit"), COSTLY_TO_COMPILE.values(), ids=COSTLY_TO_COMPILE.keys()
)
def test_a_template_too_costly_to_compile_is_refused_before_it_is(source: str, limit: str) -> None:
    started = time.monotonic()

    error = _refused(source, a=1)

    assert (error.reason, error.context) == (
        "template_too_costly",
        {"field": "body_text", "limit": limit},
    )
    assert time.monotonic() - started < SAFETY_SECONDS


def test_output_past_the_message_size_is_a_413() -> None:
    # A kilobyte a step: the 413 comes after some 5,000 steps, long before the loop would end.
    # Those take 0.3 s under coverage: time enough that the 1 s render budget (wall-clock)
    # could win on a loaded machine, so this render gets 30 s; the size limit is the point.
    request = parse_send_request(
        {
            "to": "john@example.com",
            "template_syntax": "jinja",
            "body_text": "{% for a in range(100000) %}" + "x" * 1024 + "{% endfor %}",
        }
    )
    with pytest.raises(EmailApiError) as raised:
        compose(
            request,
            SERVICE,
            now=NOW,
            size_limit=SIZE_LIMIT,
            render_limits=RenderLimits(seconds=30),
        )
    error = raised.value

    assert isinstance(error, MessageTooLarge)
    assert error.context["limit"] == SIZE_LIMIT


def test_reading_a_large_value_often_builds_nothing() -> None:
    # Looking a value up, or a filter handing it back, is no new text: only what is made counts.
    text = _text(
        "{% for i in range(100) %}{{ (d.get('big')|default(''))|length }}{% endfor %}",
        d={"big": "x" * 500_000},
    )

    assert text == "500000" * 100


def test_joining_a_long_list_of_names_is_sized_as_its_text() -> None:
    names = ["n" * 20] * 50_000  # 1 MB of text joined: what it is, not its repr

    assert _text("{{ names|join(', ')|length }}", names=names) == str(22 * 50_000 - 2)


def test_escaping_a_large_value_stays_small() -> None:
    # Escaping for HTML makes `"` six characters: the largest value there is, escaped, is
    # still refused (413) within the memory bound.
    tracemalloc.start()
    try:
        error = _compose_refused(body_html="{% set s = '\"' * 4000000 %}{{ s }}")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert isinstance(error, MessageTooLarge)
    assert peak < 100 * 1024 * 1024


def test_the_limits_cover_the_whole_message_not_each_field() -> None:
    loop = "{% for a in range(600) %}{% endfor %}"
    request = parse_send_request(
        {"to": "john@example.com", "template_syntax": "jinja", "body_text": loop}
    )
    limits = RenderLimits(iterations=1000)
    # 600 steps: within the limit alone, past it with a second field (the HTML renders first).
    compose(request, SERVICE, now=NOW, size_limit=SIZE_LIMIT, render_limits=limits)
    both = request.model_copy(update={"body_html": loop})
    with pytest.raises(InvalidRequest) as raised:
        compose(both, SERVICE, now=NOW, size_limit=SIZE_LIMIT, render_limits=limits)

    assert (raised.value.reason, raised.value.context) == (
        "template_too_costly",
        {"field": "body_text", "limit": "iterations"},
    )


def test_render_time_is_bounded_by_the_setting() -> None:
    request = parse_send_request(
        {
            "to": "john@example.com",
            "template_syntax": "jinja",
            "body_text": "{% for a in range(100000) %}{{ a|string|length }}{% endfor %}",
        }
    )
    with pytest.raises(InvalidRequest) as raised:
        compose(
            request,
            SERVICE,
            now=NOW,
            size_limit=SIZE_LIMIT,
            render_limits=RenderLimits(seconds=0.001),
        )

    assert raised.value.context["limit"] == "seconds"
