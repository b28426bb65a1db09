"""A parsed filter, checked against a record's fields and applied to its JSON view.

Values compare as DreamFactory's SQL compares them: against a number field, `5` and `'5'` are
the number 5 (a value that is no integer is refused, as df-core's `parseFilterValue` refuses
it); a boolean field takes `true`/`false` (or `1`/`0`); `like` takes `%` and `_` and ignores
case, as MySQL's and SQLite's default collations do. A comparison with a null field is
unknown, as in SQL: neither `name = 'x'` nor `name != 'x'` (nor `not (...)` of them) matches a
record whose `name` is null; `is null` does. Two differences, on purpose: `= null` matches a
null field (SQL's never does), and `=` on text is exact (MySQL's ignores case).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from core.record_query.fields import Kind, RecordFields
from core.record_query.like import LikePattern
from core.record_query.syntax import (
    And,
    Comparison,
    Expression,
    InvalidFilter,
    Literal,
    Not,
    Operator,
    Or,
)

Record = Mapping[str, Any]
# True, False, or None for SQL's unknown.
Truth = bool | None
Predicate = Callable[[Record], Truth]

_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


def compile_filter(expression: Expression, fields: RecordFields) -> Predicate:
    """A predicate over records' JSON views; `InvalidFilter` names a field they do not have,
    or a value their field cannot hold."""
    if isinstance(expression, And | Or):
        left = compile_filter(expression.left, fields)
        right = compile_filter(expression.right, fields)
        join = _and if isinstance(expression, And) else _or
        return lambda record: join(left(record), right(record))
    if isinstance(expression, Not):
        operand = compile_filter(expression.operand, fields)
        return lambda record: _not(operand(record))
    return _comparison(expression, fields)


def matches(predicate: Predicate, record: Record) -> bool:
    """Whether `record` is selected: only a true answer selects (SQL's WHERE)."""
    return predicate(record) is True


def _and(left: Truth, right: Truth) -> Truth:
    if left is False or right is False:
        return False
    return None if left is None or right is None else True


def _or(left: Truth, right: Truth) -> Truth:
    if left is True or right is True:
        return True
    return None if left is None or right is None else False


def _not(value: Truth) -> Truth:
    return None if value is None else not value


# --- one comparison ------------------------------------------------------------------------------


def _comparison(comparison: Comparison, fields: RecordFields) -> Predicate:
    field = comparison.field.lower()  # df-core looks fields up lower-cased
    kind = fields.kind(field)
    if kind is None:
        raise InvalidFilter(
            f"Invalid or unparsable field in filter request: '{comparison.field}'. "
            f"Fields: {', '.join(fields.kinds)}.",
            context={"field": comparison.field},
        )
    test = _test(comparison, field, kind)
    if not comparison.negated:
        return test
    return lambda record: _not(test(record))


def _test(comparison: Comparison, field: str, kind: Kind) -> Predicate:
    operator = comparison.operator
    if operator is Operator.IS_NULL:
        return lambda record: record.get(field) is None
    if kind is Kind.STRUCTURED:
        raise InvalidFilter(
            f"Field '{field}' holds an object or a list: a filter can only ask whether it "
            "'is null' or 'is not null'.",
            context={"field": field},
        )
    if operator is Operator.IN:
        wanted = [_value(literal, field, kind) for literal in comparison.values]
        return lambda record: _in(record.get(field), wanted)
    (literal,) = comparison.values
    if operator in _PATTERNS:
        pattern = LikePattern.of(_PATTERNS[operator].format(literal.text))
        return lambda record: _like_match(pattern, record.get(field))
    value = _value(literal, field, kind)
    order = _ORDERINGS[operator]
    return lambda record: _compare(record.get(field), value, order)


# Containment operators as df-core rewrites them into `like` (modifyValueByOperator).
_PATTERNS = {
    Operator.LIKE: "{}",
    Operator.CONTAINS: "%{}%",
    Operator.STARTS_WITH: "{}%",
    Operator.ENDS_WITH: "%{}",
}
# operator -> the signs of (record value - filter value) it accepts
_ORDERINGS = {
    Operator.EQ: {0},
    Operator.NE: {-1, 1},
    Operator.GT: {1},
    Operator.GTE: {0, 1},
    Operator.LT: {-1},
    Operator.LTE: {-1, 0},
}


def _value(literal: Literal, field: str, kind: Kind) -> Any:
    """The filter's value as the field's type holds it; None for a bare `null`."""
    text = literal.text
    if not literal.quoted and text.lower() == "null":
        return None
    if kind is Kind.INTEGER:
        if re.fullmatch(r"[+-]?\d+", text.strip()):
            return int(text)
        raise InvalidFilter(f"Field '{field}' must be a valid integer.", context={"field": field})
    if kind is Kind.NUMBER:
        try:
            return float(text)
        except ValueError:
            raise InvalidFilter(
                f"Field '{field}' must be a valid number.", context={"field": field}
            ) from None
    if kind is Kind.BOOLEAN:
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise InvalidFilter(f"Field '{field}' must be true or false.", context={"field": field})
    return text  # TEXT and ANY: text, as written


def _compare(actual: Any, wanted: Any, signs: set[int]) -> Truth:
    if wanted is None:
        # `= null` / `!= null`: whether the field is null (SQL would say unknown).
        return (actual is None) == (0 in signs)
    if actual is None:
        return None
    sign = _sign(actual, wanted)
    return None if sign is None else sign in signs


def _sign(actual: Any, wanted: Any) -> int | None:
    """-1, 0 or 1 as `actual` is below, equal to or above `wanted`; None if they cannot be
    compared (a list against text, say)."""
    if isinstance(wanted, str) and not isinstance(actual, str):
        # A field of any kind holding a number or a boolean, against a filter's text.
        actual = _as_text(actual)
        if actual is None:
            return None
    try:
        sign: int = (actual > wanted) - (actual < wanted)
        return sign
    except TypeError:
        return None


def _as_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value if isinstance(value, str) else None


def _in(actual: Any, wanted: list[Any]) -> Truth:
    if actual is None:
        return None
    return any(_compare(actual, value, {0}) for value in wanted)


def _like_match(pattern: LikePattern, actual: Any) -> Truth:
    text = _as_text(actual)
    if text is None:
        return None
    return pattern.matches(text)
