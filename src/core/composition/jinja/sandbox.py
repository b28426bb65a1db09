"""The Jinja2 environment templates render in: a sandbox against escapes, guards against cost.

Threats, and what answers each:

- Reaching Python's internals from a template (`''.__class__.__mro__`,
  `cycler.__init__.__globals__`, `lipsum.__globals__`, `self._TemplateReference__context`,
  `|attr('__class__')`, `"{0.__class__}".format(x)`): Jinja2's `ImmutableSandboxedEnvironment`
  refuses attributes starting with `_` and internal ones, looks up format fields through the
  same check, and forbids changing lists, dicts and sets (`SecurityError`, a 400
  `template_unsafe`). No loader: `include`, `import` and `extends` find nothing.
- Output without end (`{% for %}` over big ranges, a macro calling itself twice): the text is
  generated piece by piece and counted against the message size limit (413).
- Memory built without output (`"x" * 10**9`, a string doubled in a loop with `~` or `+`,
  `"x"|center(10**9)`, `"{:>999999999}".format(1)`, `"%999999999d" % 1`, `10**10**9`,
  a macro or `{% set %}` block gathering copies of a large value): every operation that can make
  a value larger than its operands (`*`, `**`, `+`, `%`, `~`, calls, filters, the joining of a
  block's output) is predicted before it runs and refused when it would pass what the message
  may still build (`limits.Budget`); what it built is counted after. Numbers passed to calls
  and filters are at most `MAX_ARGUMENT`, integers at most `MAX_INTEGER_BITS`, format widths
  come from the format itself (no `*`, no nested `{}`), and a filter gathers at most
  `MAX_ITEMS` items.
- Time without output (`{% for a in range(100000) %}{% for b in range(100000) %}`): every loop
  iterates through `guarded_iterable`, which counts steps against the message's budget and
  reads the clock; so do calls, operators and filters. `range` is the sandbox's (at most
  100,000 items) and answers as the other limits do.
- Deep recursion (a macro calling itself): Python's own limit, answered as too costly.
- Writing out a list or object (`{{ [s, s, s, ...] }}` of a large `s`): its text is sized
  first (`finalize`); writing out a function or method (`{{ order.items }}`) is refused.
- Compiling (some thousands of tags take seconds; nesting past Python's limits): bounded in
  `render.check_compile_cost` by characters and tokens before anything is compiled, and what
  Python's compiler refuses is a 400 too.

The guards are in-process, so they cost nothing per message beyond the checks (no process to
start: a batch renders hundreds of messages) and work the same in a thread of the local stack
and on Lambda. The constant folder is off: it would run operators and filters at compile time,
outside the budget.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from functools import lru_cache, partial, wraps
from typing import Any, cast

from jinja2 import StrictUndefined, Template, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import TemplateRuntimeError, UndefinedError
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import MAX_RANGE, ImmutableSandboxedEnvironment, safe_range
from jinja2.utils import Namespace, generate_lorem_ipsum, missing
from markupsafe import Markup

from core.composition.jinja.limits import (
    MAX_ARGUMENT,
    MAX_INTEGER_BITS,
    MAX_ITEMS,
    Budget,
    TemplateTooCostly,
)

# The message being rendered in this thread: the environments are shared, budgets are not.
current_budget: ContextVar[Budget] = ContextVar("current_budget")

# Filters a message template may use. Left out: `pprint` (Python's repr, of no use in mail).
_FILTERS = frozenset({
    "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e",
    "escape", "filesizeformat", "first", "float", "forceescape", "format", "groupby", "indent",
    "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min", "reject",
    "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "slice",
    "sort", "string", "striptags", "sum", "title", "tojson", "trim", "truncate", "unique",
    "upper", "urlencode", "urlize", "wordcount", "wordwrap", "xmlattr",
})  # fmt: skip
# Filters that walk their whole input: at most MAX_ITEMS items of it.
_GATHERING = frozenset({
    "batch", "dictsort", "groupby", "join", "list", "map", "max", "min", "reject",
    "rejectattr", "reverse", "select", "selectattr", "slice", "sort", "sum", "unique",
})  # fmt: skip
# Filters (and Markup methods) that work through text in Python, a few MB a second: their input
# is kept to what they take a fraction of the time limit for.
_SLOW = frozenset({"striptags", "title", "truncate", "unescape", "urlize", "wordcount", "wordwrap"})
MAX_SLOW_INPUT = 256 * 1024
# How many times longer than its input a filter's text may be, where it can grow (escaping: `"`
# is `&#34;`; JSON: `<` is `\u003c`; a URL: `%XX`; urlize: a link around each word; changing
# case: a few characters become three; wordwrap: a line break after each).
_GROWTH = {
    "e": 6, "escape": 6, "forceescape": 6, "tojson": 6, "urlencode": 3, "urlize": 10,
    "upper": 3, "lower": 3, "title": 3, "capitalize": 3, "wordwrap": 2,
}  # fmt: skip
# A printf conversion, its width and precision.
_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
_NUMBER = re.compile(r"\d+")
# What an item costs beyond its text (a pointer, and an object's header when it is its own).
_ITEM = 64
_MAX_DEPTH = 64


class MissingVariable(UndefinedError):
    """A name the template uses that no value gives."""

    def __init__(self, message: str, variable: str) -> None:
        super().__init__(message)
        self.variable = variable


class _StrictUndefined(StrictUndefined):
    """StrictUndefined whose error says which name was missing."""

    __slots__ = ()

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = missing,
        name: str | None = None,
        exc: type[TemplateRuntimeError] = UndefinedError,
    ) -> None:
        if exc is UndefinedError:  # not the sandbox's SecurityError
            exc = cast(type[TemplateRuntimeError], partial(MissingVariable, variable=str(name)))
        super().__init__(hint, obj, name, exc)


def weight(value: Any, limit: int) -> int:
    """About how many bytes `value` holds, or takes as text (its repr, for a container):
    counted until `limit` is passed, then that is enough to know."""
    total = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending and total <= limit:
        item, depth = pending.pop()
        if isinstance(item, str | bytes):
            # Inside a container it is shown as a repr, whose escapes are up to ten characters.
            total += len(item) * 10 + 2 if depth else len(item)
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, list | tuple | set | frozenset | dict | Namespace):
            if depth >= _MAX_DEPTH:
                return limit + 1
            children: Iterable[Any] = item
            if isinstance(item, Namespace):
                children = item._Namespace__attrs.items()
            elif isinstance(item, dict):
                children = item.items()
            for child in children:
                total += _ITEM
                pending.append((child, depth + 1))
        else:
            total += _ITEM
    return total


def _built(result: Any, *given: Any) -> int:
    """What an operation built: nothing when it hands back one of its inputs (`|default`,
    `|first`, `.get()` of a value kept elsewhere), else the result's weight."""
    if any(result is value for value in given):
        return 0
    return weight(result, _budget().remaining())


def _budget() -> Budget:
    # Unset while a template compiles: the LookupError tells Jinja's constant folding that a
    # guarded filter cannot run then (it is left for the render, within the budget).
    return current_budget.get()


def _check_arguments(args: Iterable[Any], kwargs: dict[str, Any]) -> None:
    for argument in (*args, *kwargs.values()):
        if isinstance(argument, int) and abs(argument) > MAX_ARGUMENT:
            raise _budget().too_costly(
                f"passes the number {_shown(argument)}; at most {MAX_ARGUMENT} may be passed",
                "argument",
            )


def _shown(number: int) -> str:
    return str(number) if number.bit_length() < 64 else f"of {number.bit_length()} bits"


def _check_integer(bits: int) -> None:
    if bits > MAX_INTEGER_BITS:
        raise _budget().too_costly(
            f"computes an integer of about {bits} bits; at most {MAX_INTEGER_BITS}", "integer"
        )


def _sized(value: Any) -> bool:
    return isinstance(value, str | bytes | list | tuple)


def _predict_binop(operator: str, left: Any, right: Any) -> int:
    """The size the operation would build (0 when it builds nothing large)."""
    budget = _budget()
    limit = budget.remaining()
    if operator == "*":
        if isinstance(left, int) and isinstance(right, int):
            _check_integer(abs(left).bit_length() + abs(right).bit_length())
            return 0
        for sequence, times in ((left, right), (right, left)):
            if _sized(sequence) and isinstance(times, int):
                return weight(sequence, limit) * max(times, 0)
    elif operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
        _check_integer(abs(left).bit_length() * right)
    elif operator == "+" and _sized(left) and _sized(right):
        return weight(left, limit) + weight(right, limit)
    elif operator == "%" and isinstance(left, str):
        return _predict_printf(left, right)
    return 0


def _predict_printf(template: str, values: Any) -> int:
    conversions = _PRINTF.findall(template)
    widest = 0
    for width, precision in conversions:
        if "*" in (width, precision):
            raise _budget().too_costly("takes a format width from a value ('*')", "argument")
        widest = max(widest, int(width or 0), int(precision or 0))
    if widest > MAX_ARGUMENT:
        raise _budget().too_costly(
            f"formats with a width of {widest}; at most {MAX_ARGUMENT}", "argument"
        )
    return len(template) + len(conversions) * (widest + weight(values, _budget().remaining()))


def _predict_format(template: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """What `template.format(...)` would build: every field as wide as its widest value."""
    fields = 0
    widest = 0
    for _text, name, spec, _conversion in string.Formatter().parse(template):
        if name is None:
            continue
        fields += 1
        if spec and "{" in spec:
            raise _budget().too_costly("takes a format width from a value ('{:{}}')", "argument")
        widest = max([widest, *(int(number) for number in _NUMBER.findall(spec or ""))])
    if widest > MAX_ARGUMENT:
        raise _budget().too_costly(
            f"formats with a width of {widest}; at most {MAX_ARGUMENT}", "argument"
        )
    limit = _budget().remaining()
    largest = max((weight(value, limit) for value in (*args, *kwargs.values())), default=0)
    return len(template) + fields * (widest + largest)


def _predict_str_method(text: str, name: str, args: tuple[Any, ...]) -> int:
    """What a call of `text.name(*args)` would build, for the methods that can grow text."""
    if name in ("center", "ljust", "rjust", "zfill") and args and isinstance(args[0], int):
        return max(len(text), args[0])
    if name == "expandtabs":
        size = args[0] if args and isinstance(args[0], int) else 8
        return len(text) + text.count("\t") * max(size, 0)
    if name == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
        old, new = args[0], args[1]
        times = len(text) + 1 if old == "" else text.count(old)
        if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
            times = min(times, args[2])
        return len(text) + times * max(len(new) - len(old), 0)
    if name in ("split", "rsplit", "splitlines"):
        return (len(text) + 1) * _ITEM
    return 0


def _predict_join(separator: str, items: Any) -> int:
    """What joining `items` (already gathered) with `separator` would build: each item as text."""
    if not isinstance(items, Iterable) or isinstance(items, dict):
        return weight(items, _budget().remaining())
    limit = _budget().remaining()
    total = 0
    for item in items:
        total += weight(item, limit) + len(separator)
        if total > limit:
            break
    return total


def _gathered(value: Any) -> Any:
    """`value`, as a list when it is an iterator (so its length can be known): at most
    MAX_ITEMS items."""
    if isinstance(value, str | list | tuple | dict | set | frozenset):
        items = value
    elif isinstance(value, Iterable):
        items = []
        for item in value:
            items.append(item)
            if len(items) > MAX_ITEMS:
                break
    else:
        return value
    if len(items) > MAX_ITEMS:
        raise _budget().too_costly(f"gathers more than {MAX_ITEMS} items", "items")
    return items


def _predict_filter(name: str, value: Any, args: tuple[Any, ...]) -> int:
    limit = _budget().remaining()
    if name == "center" and args and isinstance(args[0], int):
        return max(weight(value, limit), args[0])
    if name == "indent" and isinstance(value, str):
        width = args[0] if args and isinstance(args[0], int) else 4
        width = width if isinstance(width, int) else len(str(width))
        return len(value) + (value.count("\n") + 1) * width
    if name == "replace" and isinstance(value, str) and len(args) >= 2:
        return _predict_str_method(value, "replace", (str(args[0]), str(args[1]), *args[2:]))
    if name == "join":
        return _predict_join(str(args[0]) if args else "", value)
    if name == "format" and isinstance(value, str):
        return _predict_printf(value, args)
    if isinstance(value, str):
        return len(value) * _GROWTH.get(name, 1)
    return weight(value, limit) * 2


def _guarded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    # Filters marked `pass_context` (and the like) take that first, then the value.
    offset = 1 if hasattr(function, "jinja_pass_arg") else 0

    @wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.check_time()
        value, rest = args[offset], args[offset + 1 :]
        _check_arguments(rest, kwargs)
        if name in _GATHERING:
            value = _gathered(value)
            args = (*args[:offset], value, *rest)
        if name in _SLOW:
            _check_slow_input(name, value)
        if name == "sum":
            # Lists summed are copied again at every item: a square of the items in C.
            start = kwargs.get("start", rest[1] if len(rest) > 1 else 0)
            if not isinstance(start, int | float):
                raise budget.too_costly("sums something other than numbers", "argument")
        budget.allow(_predict_filter(name, value, rest), f"a value with '|{name}'")
        result = function(*args, **kwargs)
        budget.spend(_built(result, *args, *kwargs.values()))
        return result

    return guarded


def _check_slow_input(name: str, value: Any) -> None:
    if isinstance(value, str) and len(value) > MAX_SLOW_INPUT:
        raise _budget().too_costly(
            f"passes {len(value)} characters to '{name}'; it takes at most {MAX_SLOW_INPUT}",
            "argument",
        )


def _guarded_range(*args: int) -> range:
    try:
        return safe_range(*args)
    except OverflowError:
        raise _budget().too_costly(
            f"asks for a range of more than {MAX_RANGE} numbers", "range"
        ) from None


def _guarded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if n > 20 or max > 200 or min > max:
        raise _budget().too_costly("asks for too much lorem ipsum (at most 20 x 200)", "argument")
    return str(generate_lorem_ipsum(n=n, html=html, min=min, max=max))


def _printable(value: Any) -> Any:
    """What `{{ ... }}` writes: never a function or method (its repr shows a memory address),
    and a list or object only when its text fits the budget."""
    if callable(value) and not isinstance(value, StrictUndefined):
        raise TypeError(
            "a {{ ... }} writes a function or method, not a value: call it, or for a key named"
            " like a method write order['items'], not order.items"
        )
    budget = current_budget.get(None)  # None: a constant, finalized as the template compiles
    if budget is not None and not isinstance(value, str | int | float | bool | None):
        budget.allow(weight(value, budget.remaining()), "the text of a list or object")
    return value


class _GuardedCodeGenerator(CodeGenerator):
    """Jinja2's code, with every loop's iterable and every `~` passed through the
    environment's guards (the sandbox intercepts neither)."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        node.iter = nodes.Call(
            nodes.EnvironmentAttribute("guarded_iterable"), [node.iter], [], None, None
        )
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.guarded_concat(context.eval_ctx.autoescape, (")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


class GuardedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with every operation that can cost much checked against the budget of
    the message being rendered (`current_budget`)."""

    code_generator_class = _GuardedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *, autoescape: bool) -> None:
        super().__init__(
            autoescape=autoescape,
            undefined=_StrictUndefined,
            optimized=False,  # the constant folder would run operations outside the budget
            keep_trailing_newline=True,  # a body ends as it was written
            auto_reload=False,
            finalize=_printable,
        )
        self.filters = {name: _guarded_filter(name, self.filters[name]) for name in _FILTERS}
        self.globals.update(range=_guarded_range, lipsum=_guarded_lipsum)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        budget = _budget()
        budget.check_time()
        budget.allow(_predict_binop(operator, left, right), f"a value with '{operator}'")
        result = super().call_binop(context, operator, left, right)
        budget.spend(_built(result, left, right))
        return result

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.check_time()
        if __obj == __self.guarded_iterable:
            return __self.guarded_iterable(*args)
        if __obj is not _guarded_range:
            _check_arguments(args, kwargs)
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            if __obj.__name__ in _SLOW:
                _check_slow_input(__obj.__name__, owner)
            if __obj.__name__ == "join" and args:
                args = (_gathered(args[0]), *args[1:])
                size = _predict_join(owner, args[0])
            else:
                size = _predict_str_method(owner, __obj.__name__, args)
            budget.allow(size, f"a value with '.{__obj.__name__}()'")
        result = super().call(__context, __obj, *args, **kwargs)
        if isinstance(owner, dict | list | tuple | set | frozenset):
            # A container's methods hand back what it holds (`.get()`, `.items()`): their
            # items were counted when made; only a new container's slots are new.
            budget.spend(_ITEM * len(result) if isinstance(result, list | tuple) else 0)
        else:
            budget.spend(_built(result, owner, *args, *kwargs.values()))
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        formatter = super().wrap_str_format(value)
        if formatter is None:
            return None
        template: str = value.__self__
        is_format_map = value.__name__ == "format_map"

        def guarded(*args: Any, **kwargs: Any) -> str:
            budget = _budget()
            budget.check_time()
            mapping = args[0] if is_format_map and args else {}
            values = tuple(mapping.values()) if isinstance(mapping, dict) else ()
            size = _predict_format(template, (*args, *values), kwargs)
            budget.allow(size, "a value with '.format()'")
            result = formatter(*args, **kwargs)
            budget.spend(len(result))
            return result

        return guarded

    def guarded_iterable(self, iterable: Any) -> Iterator[Any]:
        """Each item of `iterable`, every step counted against the message's budget."""
        budget = _budget()
        for item in iterable:
            budget.step()
            yield item

    def guarded_concat(self, autoescape: bool, parts: tuple[Any, ...]) -> str:
        """`a ~ b ~ ...`, refused before it is joined when it would pass the budget."""
        budget = _budget()
        budget.check_time()
        budget.allow(sum(weight(part, budget.remaining()) for part in parts), "a value with '~'")
        joined: str = markup_join(parts) if autoescape else str_join(parts)
        budget.spend(len(joined))
        return joined

    def concat(self, parts: Iterable[str]) -> str:
        """A block's or macro's output, joined: refused when it would pass the budget."""
        budget = _budget()
        pieces = list(parts)
        budget.allow(sum(len(piece) for piece in pieces), "a block's output")
        joined = "".join(pieces)
        budget.spend(len(joined))
        return joined


@lru_cache(maxsize=2)
def environment(*, html: bool) -> GuardedEnvironment:
    """The shared environment: HTML-escaping values for `body_html`, as given elsewhere."""
    return GuardedEnvironment(autoescape=html)


# Compiled templates kept: a batch renders one template for every message. Up to 256 KiB of
# text each (a stored template's most), so what is kept stays a few MB.
_CACHED = 32
_MAX_CACHED_CHARACTERS = 256 * 1024


def compiled(source: str, *, html: bool) -> Template:
    """`source` compiled (once, when it is small enough to keep)."""
    if len(source) > _MAX_CACHED_CHARACTERS:
        return environment(html=html).from_string(source)
    return _compiled_once(source, html)


@lru_cache(maxsize=_CACHED)
def _compiled_once(source: str, html: bool) -> Template:
    return environment(html=html).from_string(source)


__all__ = ["Markup", "MissingVariable", "TemplateTooCostly", "compiled", "current_budget"]
