"""docs/configuration.md names every template parameter and every setting the functions read,
so a new one cannot ship undocumented."""

from __future__ import annotations

from pydantic import AliasChoices

from core.settings import Settings
from local_stack.template_tables import TEMPLATE, load_template

PAGE = (TEMPLATE.parent / "docs" / "configuration.md").read_text()


def _variables(field: str) -> list[str]:
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, str):
        return [alias]
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    return [field.upper()]


def test_every_template_parameter_is_documented() -> None:
    missing = [name for name in load_template()["Parameters"] if f"| `{name}` |" not in PAGE]

    assert missing == []


def test_every_setting_is_documented() -> None:
    # The MAIL_* service has one row for all of its variables.
    missing = [
        field
        for field in Settings.model_fields
        if not any(name.startswith("MAIL_") or f"`{name}`" in PAGE for name in _variables(field))
    ]

    assert missing == []
