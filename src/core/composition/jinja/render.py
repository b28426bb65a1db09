"""One field's Jinja template and the message's values in, its text out, or a 400 naming
the field: `template_syntax_error` (with the line), `template_variable_missing` (with the
name), `template_unsafe`, `template_too_costly`, `template_render_error`; 413 when the text
outgrows the message. Values are data: nothing in them is read as template syntax."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Template, TemplateError, TemplateSyntaxError
from jinja2.exceptions import SecurityError

from core.composition.jinja.limits import Budget, TemplateTooCostly
from core.composition.jinja.sandbox import MissingVariable, compiled, current_budget, environment
from core.errors import EmailApiError, InvalidRequest

# How much of an error's own words an answer repeats.
_SHOWN = 200
# Tokens a field's template may have (names, operators, literals, text between tags, spaces):
# compiling costs about a millisecond for every 15 of them, however little the template does
# (5,000 are some 1,500 tags, a third of a second), and its text is lexed and kept as code too.
MAX_TOKENS = 5_000
MAX_SOURCE_CHARACTERS = 1024 * 1024


def render_field(
    source: str, values: Mapping[str, Any], *, field: str, html: bool, budget: Budget
) -> str:
    """`source` rendered with `values` (escaped when `html`), within `budget`."""
    template = compile_field(source, field=field, html=html)
    budget.field_name = field
    budget.check_time()  # compiling counts: a message of many fields must not take them all
    token = current_budget.set(budget)
    try:
        pieces: list[str] = []
        # Piece by piece: a template that writes without end is stopped at the limit.
        for piece in template.generate(values):
            # UTF-8 bytes, without a copy when all ASCII (known without reading it).
            budget.emit(len(piece) if piece.isascii() else len(piece.encode()))
            pieces.append(piece)
        return "".join(pieces)
    except EmailApiError:
        raise
    except MissingVariable as error:
        raise InvalidRequest(
            f"The template in '{field}' uses '{error.variable}', which no value gives"
            " (template_data, the template's defaults or the service's parameters).",
            reason="template_variable_missing",
            context={"variable": error.variable, "field": field},
        ) from None
    except SecurityError as error:
        raise InvalidRequest(
            f"The template in '{field}' does something the sandbox forbids:"
            f" {_words(error)} (names starting with '_', and changing lists or dicts, are"
            " refused).",
            reason="template_unsafe",
            context={"field": field},
        ) from None
    except (RecursionError, MemoryError):
        raise budget.too_costly("nests too deep", "depth") from None
    except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as error:
        raise InvalidRequest(
            f"The template in '{field}' failed: {type(error).__name__}: {_words(error)}",
            reason="template_render_error",
            context={"field": field},
        ) from None
    finally:
        current_budget.reset(token)


def compile_field(source: str, *, field: str, html: bool) -> Template:
    """The field's template, or a 400 `template_syntax_error` with its line (or
    `template_too_costly` when compiling it would take too long)."""
    try:
        check_compile_cost(source, html=html, field=field)
        return compiled(source, html=html)
    except TemplateSyntaxError as error:
        raise InvalidRequest(
            f"The template in '{field}' has a syntax error on line {error.lineno}: {_words(error)}",
            reason="template_syntax_error",
            context={"field": field, "line": error.lineno},
        ) from None
    except (RecursionError, MemoryError, SyntaxError):
        # Python's own compiler refuses what nests too deep ("too many levels of indentation").
        raise TemplateTooCostly(
            f"The template in '{field}' nests too deep to compile.",
            context={"field": field, "limit": "depth"},
        ) from None


def check_compile_cost(source: str, *, html: bool, field: str) -> None:
    """400 `template_too_costly` for a template longer than `MAX_SOURCE_CHARACTERS` or with
    more than `MAX_TOKENS` tokens, found before it is compiled."""
    if len(source) > MAX_SOURCE_CHARACTERS:
        raise TemplateTooCostly(
            f"The template in '{field}' is {len(source)} characters long; a Jinja template may"
            f" have at most {MAX_SOURCE_CHARACTERS}.",
            context={"field": field, "limit": "characters"},
        )
    if source.count("{") <= MAX_TOKENS // 4:  # cheap: a tag opens with a brace (3 tokens)
        return
    for count, _token in enumerate(environment(html=html).lex(source), start=1):
        if count > MAX_TOKENS:
            raise TemplateTooCostly(
                f"The template in '{field}' has more than {MAX_TOKENS} tokens; split it or"
                " compute less in it.",
                context={"field": field, "limit": "tokens"},
            )


def _words(error: BaseException) -> str:
    text = str(getattr(error, "message", None) or error)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."
