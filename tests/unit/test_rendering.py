"""DreamFactory `{key}` placeholders: replaced when given, every other brace left alone."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape

from core.composition.rendering import render, rendered_size


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


# --- linear in the text, whatever the number of values (issue 16, finding 2) ------------------


def _regex_render(text: str, values: dict[str, str], *, html: bool = False) -> str:
    """The renderer as it was: one alternation of every key, scanned over the text. The
    reference for what rendering means; it costs len(text) x len(values)."""
    if not text or not values:
        return text
    pattern = re.compile("{(" + "|".join(re.escape(key) for key in values) + ")}")
    return pattern.sub(
        lambda match: str(escape(values[match[1]])) if html else values[match[1]], text
    )


# Names as DreamFactory's clients write them: anything but the braces that delimit them.
names = st.text(st.sampled_from(list("ab_.-1 é")), max_size=4)
# Texts dense in braces and in pieces of those names, so tokens half-match often.
texts = st.text(st.sampled_from(list("ab_.-1 é{}<&>\n")), max_size=80)
value_texts = st.text(st.sampled_from(list("ab{}<&>'\" ")), max_size=8)


@settings(max_examples=400, deadline=None)
@given(text=texts, values=st.dictionaries(names, value_texts, max_size=6), html=st.booleans())
def test_rendering_equals_the_reference_semantics(
    text: str, values: dict[str, str], html: bool
) -> None:
    """The one-pass renderer replaces exactly what the old alternation did, escapes exactly
    as it did, never renders a value again, and `rendered_size` is the size it produces."""
    rendered = render(text, values, html=html)

    assert rendered == _regex_render(text, values, html=html)
    assert rendered_size(text, values, html=html) == len(rendered.encode())


def test_a_name_with_a_brace_is_no_placeholder() -> None:
    """`{` and `}` delimit a name, so a value whose key holds one is never inserted."""
    assert render("{a}b} {a{b}", {"a}b": "X", "a{b": "Y"}) == "{a}b} {a{b}"


def test_ten_thousand_values_over_a_body_of_open_braces_render_quickly() -> None:
    """The attack of issue 16: 10,000 values and 300 KB bodies of `{a` each. The alternation
    tried every key at every brace (minutes); one pass is milliseconds: the bound is loose."""
    values = {f"a{index}": "v" for index in range(10_000)}
    text = "{a" * 150_000

    started = time.perf_counter()
    rendered = render(text, values, html=True)
    size = rendered_size(text, values, html=True)
    elapsed = time.perf_counter() - started

    assert rendered == text
    assert size == len(text)
    assert elapsed < 1, f"{elapsed:.1f} s"


class _CountingValues(dict[str, str]):
    """Values that count how often a name is looked up among them."""

    lookups = 0

    def __contains__(self, key: object) -> bool:
        self.lookups += 1
        return super().__contains__(key)


def test_the_work_is_one_lookup_a_token_whatever_the_number_of_values() -> None:
    """Counted, not timed: one look-up per `{name}` token of the text, none per value."""
    values = _CountingValues({f"a{index}": "v" for index in range(10_000)})
    text = "{a" * 150_000 + "{a7} {b}"

    rendered = render(text, values)
    size = rendered_size(text, values)

    assert rendered == "{a" * 150_000 + "v {b}"
    assert size == len(rendered)
    assert values.lookups == 2 * 2  # `{a7}` and `{b}`, once for each of the two calls
