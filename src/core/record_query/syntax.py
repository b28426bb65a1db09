"""DreamFactory's `filter` syntax, read into a small expression tree (no evaluation here).

df-core reads a filter with string searches (`DbRequestCriteria::parseFilterString`): operands
of `and`/`or` must then sit in parentheses, and a value runs to the end of its operand. This is
a recursive-descent parser of the same language, so both `(name = 'a') or (name = 'b')` and
`name = 'a' or name = 'b'` read as DreamFactory's SQL would (NOT before AND before OR).

    expression  := disjunction
    disjunction := conjunction (("or" | "||") conjunction)*
    conjunction := negation (("and" | "&&") negation)*
    negation    := "not" negation | "(" expression ")" | comparison
    comparison  := field operator value
                 | field ["not"] "in" "(" value ("," value)* ")"
                 | field "is" ["not"] "null"
    operator    := "=" | "!=" | "<>" | ">" | ">=" | "<" | "<=" | "eq" | "ne" | "gt" | "gte"
                 | "lt" | "lte" | ["not"] ("like" | "contains" | "starts with" | "ends with")
    value       := 'text' | "text" | bare words up to "and", "or", ")", "," or the end

Keywords are case-insensitive (DreamFactory compares them with `stripos`). In quotes, a quote
is written twice (`'O''Brien'`), as in SQL. Bounded: a filter is at most `MAX_LENGTH`
characters and `MAX_DEPTH` levels of nesting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from core.errors import InvalidRequest

MAX_LENGTH = 4096
MAX_DEPTH = 32


class InvalidFilter(InvalidRequest):
    """400: a filter this parser cannot read, or one naming what the records do not have."""

    default_reason = "invalid_filter"


class Operator(StrEnum):
    EQ = "="
    NE = "!="
    GT = ">"
    GTE = ">="
    LT = "<"
    LTE = "<="
    LIKE = "like"
    CONTAINS = "contains"
    STARTS_WITH = "starts with"
    ENDS_WITH = "ends with"
    IN = "in"
    IS_NULL = "is null"


@dataclass(frozen=True)
class Literal:
    """A value as written: `quoted` ones are always text; bare ones may be numbers, `true`,
    `false` or `null`, as the field's type decides."""

    text: str
    quoted: bool


@dataclass(frozen=True)
class Comparison:
    field: str
    operator: Operator
    values: tuple[Literal, ...]  # one, none for `is null`, the list for `in`
    negated: bool = False  # `not like`, `not in`, `is not null`, ...


@dataclass(frozen=True)
class Not:
    operand: Expression


@dataclass(frozen=True)
class And:
    left: Expression
    right: Expression


@dataclass(frozen=True)
class Or:
    left: Expression
    right: Expression


Expression = Comparison | Not | And | Or


# --- tokens ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "quoted", "symbol", "end"
    text: str
    start: int
    end: int


_SYMBOLS = ("&&", "||", ">=", "<=", "!=", "<>", "=", ">", "<", "(", ")", ",")
# A bare word: anything up to a space, a bracket, a comma, a quote or an operator's sign.
_WORD = re.compile(r"[^\s(),'\"=<>!&|]+|[&|!]")


def _tokens(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char.isspace():
            position += 1
            continue
        if char in "'\"":
            tokens.append(_quoted(text, position))
            position = tokens[-1].end
            continue
        symbol = next((s for s in _SYMBOLS if text.startswith(s, position)), None)
        if symbol is not None:
            tokens.append(Token("symbol", symbol, position, position + len(symbol)))
            position += len(symbol)
            continue
        # _WORD takes every character the branches above do not.
        match = _WORD.match(text, position)
        end = match.end() if match else position + 1
        tokens.append(Token("word", text[position:end], position, end))
        position = end
    tokens.append(Token("end", "", len(text), len(text)))
    return tokens


def _quoted(text: str, start: int) -> Token:
    quote = text[start]
    parts: list[str] = []
    position = start + 1
    while True:
        close = text.find(quote, position)
        if close < 0:
            raise _error(text, start, f"the quote {quote} opened here is never closed")
        parts.append(text[position:close])
        if text.startswith(quote * 2, close):  # a doubled quote stands for one
            parts.append(quote)
            position = close + 2
            continue
        return Token("quoted", "".join(parts), start, close + 1)


def _error(text: str, position: int, problem: str) -> InvalidFilter:
    return InvalidFilter(
        f"Invalid or unparsable filter request: {problem} (at character {position + 1}).",
        context={"filter": text, "position": position + 1},
    )


# --- the parser ----------------------------------------------------------------------------------

# Word operators; "not" before `in` or the like-family negates it (df-core takes a `not`
# ending the field's side as negation: DbRequestCriteria::parseFilterString).
_WORD_OPERATORS = {
    "eq": Operator.EQ,
    "ne": Operator.NE,
    "gt": Operator.GT,
    "gte": Operator.GTE,
    "lt": Operator.LT,
    "lte": Operator.LTE,
    "like": Operator.LIKE,
    "contains": Operator.CONTAINS,
    "in": Operator.IN,
}
_SYMBOL_OPERATORS = {
    "=": Operator.EQ,
    "!=": Operator.NE,
    "<>": Operator.NE,
    ">": Operator.GT,
    ">=": Operator.GTE,
    "<": Operator.LT,
    "<=": Operator.LTE,
}
_NEGATABLE = {
    Operator.IN,
    Operator.LIKE,
    Operator.CONTAINS,
    Operator.STARTS_WITH,
    Operator.ENDS_WITH,
}
_AND = {"and", "&&"}
_OR = {"or", "||"}
# The words that end a bare value (as do a bracket, a comma, a quote and the end).
_VALUE_ENDS = _AND | _OR


def parse(text: str) -> Expression:
    """The expression `text` writes, or `InvalidFilter` saying where it stops making sense."""
    if len(text) > MAX_LENGTH:
        raise InvalidFilter(
            f"The filter is {len(text)} characters long; at most {MAX_LENGTH} are read.",
            context={"limit": MAX_LENGTH},
        )
    if not text.strip():
        raise InvalidFilter("The filter is empty: leave `filter` out to list every record.")
    return _Parser(text).expression()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.index = 0
        self.depth = 0

    def expression(self) -> Expression:
        expression = self._disjunction()
        if self._peek().kind != "end":
            raise self._unexpected("expected 'and', 'or' or the end of the filter")
        return expression

    # --- logic

    def _disjunction(self) -> Expression:
        expression = self._conjunction()
        while self._is_word(_OR):
            self._advance()
            expression = Or(expression, self._conjunction())
        return expression

    def _conjunction(self) -> Expression:
        expression = self._negation()
        while self._is_word(_AND):
            self._advance()
            expression = And(expression, self._negation())
        return expression

    def _negation(self) -> Expression:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _error(self.text, self._peek().start, f"nested over {MAX_DEPTH} levels deep")
        try:
            if self._is_word({"not"}):
                self._advance()
                return Not(self._negation())
            if self._peek().text == "(" and self._peek().kind == "symbol":
                self._advance()
                inner = self._disjunction()
                self._expect(")", "expected ')'")
                return inner
            return self._comparison()
        finally:
            self.depth -= 1

    # --- comparisons

    def _comparison(self) -> Comparison:
        token = self._peek()
        if token.kind != "word" or token.text.lower() in _AND | _OR:
            raise self._unexpected("expected a field name")
        self._advance()
        field = token.text
        negated = self._is_word({"not"})
        if negated:
            self._advance()
        operator, negated = self._operator(field, negated)
        if operator is Operator.IS_NULL:
            return Comparison(field, operator, (), negated)
        if operator is Operator.IN:
            return Comparison(field, operator, self._value_list(), negated)
        return Comparison(field, operator, (self._value(),), negated)

    def _operator(self, field: str, negated: bool) -> tuple[Operator, bool]:
        """The operator after `field` (and a `not`, if `negated`), and whether it is negated."""
        token = self._peek()
        if token.kind == "symbol" and token.text in _SYMBOL_OPERATORS:
            if negated:
                raise self._unexpected("'not' cannot come before a sign")
            self._advance()
            return _SYMBOL_OPERATORS[token.text], False
        word = token.text.lower() if token.kind == "word" else ""
        if word == "is" and not negated:
            self._advance()
            is_not = self._is_word({"not"})
            if is_not:
                self._advance()
            self._expect_word("null", "expected 'null' or 'not null' after 'is'")
            return Operator.IS_NULL, is_not
        if word in {"starts", "ends"}:
            self._advance()
            self._expect_word("with", f"expected 'with' after '{token.text}'")
            return (Operator.STARTS_WITH if word == "starts" else Operator.ENDS_WITH), negated
        operator = _WORD_OPERATORS.get(word)
        if operator is None:
            raise self._unexpected(f"expected a comparison operator after '{field}'")
        if negated and operator not in _NEGATABLE:
            raise self._unexpected(f"'not' cannot come before '{token.text}'")
        self._advance()
        return operator, negated

    def _value(self) -> Literal:
        token = self._peek()
        if token.kind == "quoted":
            self._advance()
            return Literal(token.text, quoted=True)
        if token.kind != "word" or token.text.lower() in _VALUE_ENDS:
            raise self._unexpected("expected a value")
        # Bare words run on, as DreamFactory's value runs to the end of its operand:
        # `name = User Invite Default` is one value; its spacing is kept as written.
        first = last = token
        self._advance()
        while self._peek().kind == "word" and self._peek().text.lower() not in _VALUE_ENDS:
            last = self._advance()
        return Literal(self.text[first.start : last.end], quoted=False)

    def _value_list(self) -> tuple[Literal, ...]:
        # DreamFactory: "Filter value lists must be wrapped in parentheses."
        self._expect("(", "expected '(' to open the list of values")
        values = [self._value()]
        while self._peek().text == "," and self._peek().kind == "symbol":
            self._advance()
            values.append(self._value())
        self._expect(")", "expected ',' or ')' in the list of values")
        return tuple(values)

    # --- token plumbing

    def _peek(self) -> Token:
        return self.tokens[self.index]

    def _advance(self) -> Token:
        token = self.tokens[self.index]
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def _is_word(self, words: set[str]) -> bool:
        token = self._peek()
        if token.kind == "word":
            return token.text.lower() in words
        return token.kind == "symbol" and token.text in words

    def _expect(self, symbol: str, problem: str) -> None:
        token = self._peek()
        if token.kind != "symbol" or token.text != symbol:
            raise self._unexpected(problem)
        self._advance()

    def _expect_word(self, word: str, problem: str) -> None:
        if not self._is_word({word}):
            raise self._unexpected(problem)
        self._advance()

    def _unexpected(self, problem: str) -> InvalidFilter:
        token = self._peek()
        found = "the end" if token.kind == "end" else repr(self.text[token.start : token.end])
        return _error(self.text, token.start, f"{problem}, found {found}")
