"""docs/troubleshooting.md names every `reason` the code can answer with.

The reasons are found in the source itself (an AST walk of `src/`), so a new one fails this
test until the page says what it means and what to do: literal `reason=` arguments, error
classes' `default_reason`, defaults of parameters named `reason`, literals passed where a
function of the same module takes its `reason`, module constants used as one, and the
reasons written into message records (`"reason": "..."` in `core/delivery`)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from tests.support.markdown_docs import DOCS_DIR, REPO_ROOT

SRC = REPO_ROOT / "src"
PAGE = DOCS_DIR / "troubleshooting.md"
# Where a message record's `reason` is written as a dict entry (not an example in a schema).
RECORD_MODULES = ("core/delivery/",)


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        yield path, ast.parse(path.read_text(), filename=str(path))


def _constants() -> dict[str, str]:
    """Module-level `NAME = "text"` across src/, by name."""
    found: dict[str, str] = {}
    for _, module in _modules():
        for node in module.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                        found[target.id] = node.value.value
    return found


def _texts(node: ast.expr | None, constants: dict[str, str]) -> Iterator[str]:
    """The reason strings an expression can be: literals, both arms of `a if c else b`,
    known constants; an f-string as a regular expression (`\\w+` for each hole)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield re.escape(node.value)
    elif isinstance(node, ast.IfExp):
        yield from _texts(node.body, constants)
        yield from _texts(node.orelse, constants)
    elif isinstance(node, ast.Name) and node.id in constants:
        yield re.escape(constants[node.id])
    elif isinstance(node, ast.JoinedStr):
        yield "".join(
            re.escape(str(part.value)) if isinstance(part, ast.Constant) else r"\w+"
            for part in node.values
        )


def _reason_positions(module: ast.Module) -> dict[str, int]:
    """Functions of a module taking a `reason`, and its position among a call's arguments."""
    positions: dict[str, int] = {}
    for node in ast.walk(module):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names = [argument.arg for argument in node.args.args]
            if "reason" in names:
                offset = 1 if names[:1] in (["self"], ["cls"]) else 0
                positions[node.name] = names.index("reason") - offset
    return positions


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _is_default_reason(node: ast.AST) -> bool:
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign):
        targets = [node.target]
    else:
        return False
    return any(isinstance(target, ast.Name) and target.id == "default_reason" for target in targets)


def _parameter_defaults(node: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.expr | None]:
    """The defaults of a function's parameters named `reason`."""
    arguments = node.args.args + node.args.kwonlyargs
    defaults: list[ast.expr | None] = [None] * (len(node.args.args) - len(node.args.defaults))
    defaults += [*node.args.defaults, *node.args.kw_defaults]
    for argument, default in zip(arguments, defaults, strict=True):
        if argument.arg == "reason":
            yield default


def _reason_expressions(path: Path, module: ast.Module) -> Iterator[ast.expr | None]:
    """Every expression of a module that becomes a `reason`."""
    positions = _reason_positions(module)
    in_records = str(path.relative_to(SRC)).startswith(RECORD_MODULES)
    for node in ast.walk(module):
        if isinstance(node, ast.keyword) and node.arg == "reason":
            yield node.value
        elif _is_default_reason(node):
            yield node.value  # type: ignore[attr-defined]  # an Assign or AnnAssign
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _parameter_defaults(node)
        elif isinstance(node, ast.Call):
            position = positions.get(_called_name(node) or "")
            if position is not None and position < len(node.args):
                yield node.args[position]
        elif isinstance(node, ast.Dict) and in_records:
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "reason":
                    yield value


def code_reasons() -> set[str]:
    """Every reason the source can produce, as regular expressions."""
    constants = _constants()
    return {
        reason
        for path, module in _modules()
        for expression in _reason_expressions(path, module)
        for reason in _texts(expression, constants)
    }


def documented_reasons() -> set[str]:
    """Reasons the page names, in backticks: `smtp_rejected`."""
    return set(re.findall(r"`([a-z0-9_]+)`", PAGE.read_text()))


def test_the_source_search_finds_reasons_of_each_kind() -> None:
    reasons = code_reasons()
    for known in ("internal_error", "smtp_rejected", "invalid_batch", "key_revoked"):
        assert re.escape(known) in reasons  # a class default, a literal, a default, a call
    assert re.escape("enqueue_failed") in reasons  # a constant
    assert r"\w+_id_taken" in reasons  # an f-string


def test_every_reason_the_code_can_answer_is_on_the_troubleshooting_page() -> None:
    documented = documented_reasons()
    missing = sorted(
        reason
        for reason in code_reasons()
        if not any(re.fullmatch(reason, name) for name in documented)
    )
    assert missing == [], f"docs/troubleshooting.md says nothing of: {', '.join(missing)}"
