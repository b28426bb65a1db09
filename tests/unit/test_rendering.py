"""DreamFactory `{key}` placeholders: replaced when given, every other brace left alone."""

from __future__ import annotations

import pytest
from markupsafe import escape

from core.rendering import render


def test_given_keys_are_replaced() -> None:
    assert render("Hi {name}, order {order}.", {"name": "Ann", "order": "42"}) == (
        "Hi Ann, order 42."
    )


def test_the_same_key_twice() -> None:
    assert render("{x}-{x}", {"x": "a"}) == "a-a"


@pytest.mark.parametrize(
    "text",
    [
        "Hi {unknown}",
        "p { color: red; } .a{margin:0}",
        '{"json": {"nested": [1, 2]}}',
        "{ name }",
        "{{name",
        "}{",
    ],
)
def test_other_braces_are_untouched(text: str) -> None:
    assert render(text, {"name": "Ann"}) == text.replace("{name}", "Ann")


def test_double_braces_keep_the_outer_pair() -> None:
    # DreamFactory replaces the literal "{name}" wherever it occurs.
    assert render("{{name}}", {"name": "Ann"}) == "{Ann}"


def test_keys_are_literal_not_patterns() -> None:
    assert render("{a.b} {axb}", {"a.b": "X"}) == "X {axb}"


def test_no_values_no_change() -> None:
    assert render("Hi {name}", {}) == "Hi {name}"
    assert render("", {"name": "Ann"}) == ""


@pytest.mark.parametrize(
    "value",
    [
        "{{ 7*7 }}",
        "{% for x in range(3) %}{{ x }}{% endfor %}",
        "{# comment #}",
        "{{ ''.__class__ }}",
    ],
)
def test_values_are_data_never_template_code(value: str) -> None:
    assert render("Total: {total}", {"total": value}) == f"Total: {value}"
    assert render("Total: {total}", {"total": value}, html=True) == f"Total: {escape(value)}"


@pytest.mark.parametrize("text", ["{{ 7*7 }} {name}", "{% if true %}yes{% endif %} {name}"])
def test_template_syntax_in_the_text_is_not_evaluated(text: str) -> None:
    assert render(text, {"name": "Ann"}) == text.replace("{name}", "Ann")


def test_html_escapes_values_only() -> None:
    rendered = render(
        '<p class="greeting">Hi {name}</p>',
        {"name": "<script>alert(\"x\")</script> & 'co'"},
        html=True,
    )

    assert rendered == (
        '<p class="greeting">Hi '
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;co&#39;"
        "</p>"
    )


def test_text_is_never_escaped() -> None:
    assert render("Hi {name} & co", {"name": "<Ann & Bob>"}) == "Hi <Ann & Bob> & co"


def test_line_endings_are_kept() -> None:
    assert render("a {x}\n\nb\n", {"x": "1"}) == "a 1\n\nb\n"
