"""DreamFactory's filter syntax and list options on records in memory (`core.record_query`).

The reference is df-core: `src/Components/DbRequestCriteria.php` (`parseFilterString`, lines
209-333; `parseFilterValue`, 344-435; `modifyValueByOperator`, 483-497) and
`src/Enums/DbComparisonOperators.php` (the operators, `getParsingOrder` lines 110-137), with
`src/Models/BaseModel.php` (`selectByIds` 955-1011, `selectByRequest` 1022-1076).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from pydantic import BaseModel

from core.errors import InvalidRequest, NotFound
from core.record_query.fields import Kind, RecordFields
from core.record_query.like import LikePattern
from core.record_query.query import RecordQuery, select
from core.record_query.syntax import (
    MAX_DEPTH,
    MAX_LENGTH,
    And,
    Comparison,
    InvalidFilter,
    Literal,
    Not,
    Operator,
    Or,
    parse,
)


class Template(BaseModel):
    id: int
    name: str
    description: str | None = None
    to: Any = None
    is_active: bool = True
    ratio: float | None = None
    defaults: dict[str, str] = {}


FIELDS = RecordFields.of(Template)
RECORDS: list[dict[str, Any]] = [
    {"id": 1, "name": "User Invite Default", "description": "Invite", "to": "a@example.com",
     "is_active": True, "ratio": 0.5, "defaults": {}},
    {"id": 4, "name": "welcome", "description": "Sent on sign-up", "to": ["b@example.com"],
     "is_active": False, "ratio": 2.0, "defaults": {}},
    {"id": 2, "name": "O'Brien", "description": None, "to": None,
     "is_active": True, "ratio": None, "defaults": {}},
]  # fmt: skip


def ids(expression: str) -> list[int]:
    """The ids `expression` selects, by id (df-core's default, "$pk asc")."""
    query = RecordQuery(filter=expression, order="id")
    return [record["id"] for record in select(RECORDS, query, FIELDS).records]


# --- reading the syntax -------------------------------------------------------------------------


def test_the_forms_dreamfactory_reads_for_one_comparison() -> None:
    """parseFilterValue strips one pair of '...' or "..." (lines 356-359); symbols need no
    spaces around them, word operators do (padOperator, lines 437-448)."""
    expected = Comparison("name", Operator.EQ, (Literal("welcome", quoted=True),))
    assert parse("name='welcome'") == expected
    assert parse('name = "welcome"') == expected
    assert parse("name EQ 'welcome'") == expected
    assert parse("name=welcome") == Comparison("name", Operator.EQ, (Literal("welcome", False),))


def test_a_bare_value_runs_to_the_end_of_its_operand() -> None:
    """df-core takes the rest of the operand as the value (line 284)."""
    assert parse("name = User Invite Default") == Comparison(
        "name", Operator.EQ, (Literal("User Invite Default", False),)
    )


@pytest.mark.parametrize(
    ("text", "operator"),
    [
        ("id != 1", Operator.NE),
        ("id <> 1", Operator.NE),
        ("id ne 1", Operator.NE),
        ("id>1", Operator.GT),
        ("id gt 1", Operator.GT),
        ("id>=1", Operator.GTE),
        ("id GTE 1", Operator.GTE),
        ("id<1", Operator.LT),
        ("id lt 1", Operator.LT),
        ("id<=1", Operator.LTE),
        ("id lte 1", Operator.LTE),
        ("name like 'w%'", Operator.LIKE),
        ("name contains 'w'", Operator.CONTAINS),
        ("name starts with 'w'", Operator.STARTS_WITH),
        ("name ENDS WITH 'w'", Operator.ENDS_WITH),
    ],
)
def test_every_comparison_operator_of_dreamfactory(text: str, operator: Operator) -> None:
    """DbComparisonOperators::getParsingOrder (lines 110-137), keywords in any case."""
    parsed = parse(text)
    assert isinstance(parsed, Comparison)
    assert parsed.operator is operator


def test_negations_lists_and_nulls() -> None:
    """`not` ending the field's side negates (lines 264-276); `in` takes a list in
    parentheses (lines 294-305); `is null` takes no value (requiresNoValue)."""
    assert parse("name not like 'w%'") == Comparison(
        "name", Operator.LIKE, (Literal("w%", True),), negated=True
    )
    assert parse("id not in (1, '2')") == Comparison(
        "id", Operator.IN, (Literal("1", False), Literal("2", True)), negated=True
    )
    assert parse("description IS NOT NULL") == Comparison(
        "description", Operator.IS_NULL, (), negated=True
    )
    with pytest.raises(InvalidFilter, match="expected '\\('"):
        parse("id in 1,2")


def test_logic_binds_as_sql_does() -> None:
    """df-core splits `) AND (`, `) OR (` and `NOT (` (lines 218-241) and hands SQL the
    rest: NOT before AND before OR, parentheses first; `&&` and `||` too."""
    a = Comparison("id", Operator.EQ, (Literal("1", False),))
    b = Comparison("id", Operator.EQ, (Literal("2", False),))
    c = Comparison("id", Operator.EQ, (Literal("3", False),))
    assert parse("(id=1) or (id=2) and (id=3)") == Or(a, And(b, c))
    assert parse("id=1 || id=2 && id=3") == Or(a, And(b, c))
    assert parse("((id=1) OR (id=2)) AND NOT (id=3)") == And(Or(a, b), Not(c))
    assert parse("(id=1)AND(id=2)") == And(a, b)


def test_a_doubled_quote_stands_for_one() -> None:
    assert parse("name = 'O''Brien'") == Comparison(
        "name", Operator.EQ, (Literal("O'Brien", True),)
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("name", "expected a comparison operator after 'name'"),
        ("name =", "expected a value"),
        ("name = 'x", "never closed"),
        ("(name = 'x'", "expected '\\)'"),
        ("name = 'x')", "expected 'and', 'or' or the end"),
        ("name = 'x' and", "expected a field name"),
        ("name ~ 'x'", "expected a comparison operator"),
        ("name not = 'x'", "'not' cannot come before a sign"),
        ("name not gt 1", "'not' cannot come before 'gt'"),
        ("name is 'x'", "expected 'null' or 'not null'"),
        ("name starts 'x'", "expected 'with'"),
    ],
)
def test_what_cannot_be_read_is_refused_saying_where(text: str, problem: str) -> None:
    """DreamFactory: 400 "Invalid or unparsable filter request." (line 332); here also where."""
    with pytest.raises(InvalidFilter, match=problem):
        parse(text)


def test_the_filter_is_bounded() -> None:
    with pytest.raises(InvalidFilter, match="characters long"):
        parse("id=1 or " * (MAX_LENGTH // 8) + "id=1")
    with pytest.raises(InvalidFilter, match="nested over"):
        parse("(" * (MAX_DEPTH + 1) + "id=1" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(InvalidFilter, match="nested over"):
        parse("not " * (MAX_DEPTH + 1) + "id=1")
    assert parse("(" * (MAX_DEPTH - 1) + "id=1" + ")" * (MAX_DEPTH - 1))


# --- evaluating it ------------------------------------------------------------------------------


def test_equality_and_order_by_the_fields_type() -> None:
    """An integer field takes `4` or `'4'` (parseFilterValue, lines 376-389)."""
    assert ids("id = 4") == [4]
    assert ids("id = '4'") == [4]
    assert ids("id > 1") == [2, 4]
    assert ids("ID <= 2") == [1, 2]  # field names are looked up lower-cased (line 278)
    assert ids("ratio >= 0.5") == [1, 4]
    assert ids("is_active = false") == [4]
    assert ids("is_active = 1") == [1, 2]
    assert ids("name = 'welcome'") == [4]
    assert ids("name = 'WELCOME'") == []  # exact, on purpose
    assert ids("name > 'P'") == [1, 4]


def test_a_value_the_field_cannot_hold_is_a_400() -> None:
    """ "Field 'id' must be a valid integer." (line 384)."""
    with pytest.raises(InvalidFilter, match="Field 'id' must be a valid integer"):
        ids("id = welcome")
    with pytest.raises(InvalidFilter, match="must be true or false"):
        ids("is_active = yes please")
    with pytest.raises(InvalidFilter, match="must be a valid number"):
        ids("ratio > much")


def test_an_unknown_field_is_a_400_naming_it() -> None:
    """ "Invalid or unparsable field in filter request: '$field'" (line 280)."""
    with pytest.raises(InvalidFilter, match="'nmae'") as refused:
        ids("nmae = 'x'")
    assert refused.value.context["field"] == "nmae"


def test_like_and_its_rewritten_forms() -> None:
    """contains/starts with/ends with become `like` with `%` added (lines 483-497); `like`
    ignores case as MySQL's and SQLite's default collations do; `_` is any one character."""
    assert ids("name like 'user%'") == [1]
    assert ids("name like '%E'") == [4]
    assert ids("name like 'w_lcome'") == [4]
    assert ids("name contains 'invite'") == [1]
    assert ids("name starts with 'O'") == [2]
    assert ids("name ends with 'default'") == [1]
    assert ids("name not like '%i%'") == [4]
    assert ids(r"name like '%\%%'") == []
    assert ids("id like '4'") == [4]


def test_null_is_unknown_as_in_sql_but_is_null_and_eq_null_match_it() -> None:
    assert ids("description is null") == [2]
    assert ids("description is not null") == [1, 4]
    assert ids("description != 'Invite'") == [4]  # the null description is unknown
    assert ids("not (description = 'Invite')") == [4]
    assert ids("description = null") == [2]
    assert ids("description != null") == [1, 4]
    assert ids("description = 'null'") == []


def test_in_lists_and_logic() -> None:
    assert ids("id in (1, '4', 7)") == [1, 4]
    assert ids("id not in (1)") == [2, 4]
    assert ids("(name like 'w%') or (description like '%invite%')") == [1, 4]
    assert ids("is_active = true and not (id = 1)") == [2]
    assert ids("(id = 1 or id = 2) and ratio is null") == [2]


def test_a_field_of_any_type_compares_as_it_holds() -> None:
    assert ids("to = 'a@example.com'") == [1]
    assert ids("to like '%example.com'") == [1]  # the list is neither equal nor like
    assert ids("to is null") == [2]


def test_objects_and_lists_only_answer_is_null() -> None:
    assert ids("defaults is not null") == [1, 2, 4]
    with pytest.raises(InvalidFilter, match="'defaults' holds an object or a list"):
        ids("defaults = 'x'")


def test_the_admin_interfaces_filters() -> None:
    """df-admin-interface `src/app/shared/utilities/filter-queries.ts` (lines 20-29) and
    `src/app/adf-services/resolvers/services.resolver.ts` (lines 48-53)."""
    assert ids('(name like "%welc%") or (description like "%welc%")') == [4]
    assert ids('(name != "api_docs") and (id in ("1","2"))') == [1, 2]


# --- the selection ------------------------------------------------------------------------------


def _select(**query: Any) -> Any:
    return select(RECORDS, RecordQuery(**query), FIELDS)


def test_ids_order_offset_limit_fields_and_the_count() -> None:
    """The count is the filter's (countByRequest, lines 1085-1094), before offset and limit.
    Without `order`, records keep the order they are listed in (the repositories list
    templates by id, as selectByRequest's default "$pk asc", line 1052)."""
    assert [r["id"] for r in _select().records] == [1, 4, 2]
    selection = _select(order="name desc", offset=1, limit=1, fields="id,name")
    assert selection.records == [{"id": 1, "name": "User Invite Default"}]
    assert selection.count == 3
    assert [r["id"] for r in _select(ids="4, 1").records] == [1, 4]
    assert [r["id"] for r in _select(ids="2,1", filter="is_active = true").records] == [1, 2]
    ordered = _select(order="is_active, ratio desc")
    assert [r["id"] for r in ordered.records] == [4, 1, 2]
    assert _select(fields="*").records == RECORDS


def test_an_id_that_selects_nothing_is_a_404() -> None:
    """selectByIds: "Record with identifier '$id' not found." (line 1000)."""
    with pytest.raises(NotFound, match=r"Record with identifier '9' not found\."):
        _select(ids="1,9")
    with pytest.raises(NotFound, match="'4'"):  # ids and the filter both apply
        _select(ids="1,4", filter="is_active = true")


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({"fields": "id,nmae"}, "invalid_fields"),
        ({"order": "nmae"}, "invalid_order"),
        ({"order": "name sideways"}, "invalid_order"),
        ({"order": "defaults"}, "invalid_order"),
        ({"ids": " , "}, "invalid_ids"),
    ],
)
def test_what_the_records_do_not_have_is_a_400(query: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        _select(**query)
    assert refused.value.reason == reason


def test_field_kinds_come_from_the_model() -> None:
    assert FIELDS.kinds == {
        "id": Kind.INTEGER,
        "name": Kind.TEXT,
        "description": Kind.TEXT,
        "to": Kind.ANY,
        "is_active": Kind.BOOLEAN,
        "ratio": Kind.NUMBER,
        "defaults": Kind.STRUCTURED,
    }
    assert FIELDS.identifier == "id"
    assert RecordFields.of(Template, frozenset({"id"})).identifier == "name"


# --- like ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("%", "", True),
        ("", "", True),
        ("", "a", False),
        ("abc", "ABC", True),
        ("a_c", "abc", True),
        ("a_c", "ac", False),
        ("a%", "a", True),
        ("%a", "ba", True),
        ("a%a", "a", False),
        ("a%a", "aa", True),
        ("%b_d%", "abcde", True),
        ("%b_d%", "abde", False),
        ("%ab%ab%", "xabab", True),
        ("%ab%ab%", "xab", False),
        (r"100\%", "100%", True),
        (r"100\%", "1000", False),
        (r"a\_b", "a_b", True),
        (r"a\_b", "axb", False),
        ("a\\", "a\\", True),
    ],
)
def test_like_as_sql_reads_it(pattern: str, text: str, expected: bool) -> None:
    assert LikePattern.of(pattern).matches(text) is expected


def test_like_takes_time_in_proportion_to_the_text() -> None:
    """A backtracking regular expression would take minutes on this; here it is linear-ish."""
    body = "a" * 256 * 1024
    started = time.perf_counter()

    assert not LikePattern.of("%a%a%a%a%a%a%a%a%a%a%b").matches(body)
    assert not LikePattern.of("%a_a_a_a_a_b%").matches(body[:20_000])

    assert time.perf_counter() - started < 5
