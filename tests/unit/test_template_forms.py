"""A template's fields as DreamFactory's clients write them, in the form kept here, and the names
it allows: no storage, no HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import InvalidRequest
from core.templates.model import dreamfactory_form, split_addresses, valid_template_name


def test_empty_fields_are_unset_and_defaults_empty() -> None:
    form = {"name": "x", "to": "", "attachment": "", "subject": "", "defaults": ""}

    assert dreamfactory_form(form) == {
        "name": "x",
        "to": None,
        "attachment": None,
        "subject": None,
        "defaults": {},
    }


def test_a_field_not_given_stays_not_given() -> None:
    assert dreamfactory_form({"name": "x"}) == {"name": "x"}


@pytest.mark.parametrize(
    ("text", "addresses"),
    [
        ("a@example.com,b@example.com", ["a@example.com", "b@example.com"]),
        (" a@example.com , b@example.com ,", ["a@example.com", "b@example.com"]),
        (",", []),
    ],
)
def test_comma_separated_recipients_become_a_list(text: str, addresses: list[str]) -> None:
    """df-core `src/Models/EmailTemplate.php` lines 62-79: split at every comma, trimmed."""
    assert split_addresses(text) == addresses
    assert dreamfactory_form({"cc": text})["cc"] == addresses


@pytest.mark.parametrize("value", ["a@example.com", ["a@example.com"], {"email": "a@example.com"}])
def test_other_recipient_forms_are_kept_as_given(value: Any) -> None:
    assert dreamfactory_form({"bcc": value})["bcc"] == value


@pytest.mark.parametrize(
    "name", ["User Invite Default", "Welcome.v2", "Ünïcode naming", "a", "x" * 128, "50% off"]
)
def test_dreamfactorys_names_are_valid(name: str) -> None:
    assert valid_template_name(name) == name


@pytest.mark.parametrize(
    "name", ["", " x", "x ", "a\nb", "a\rb", "a\x00b", "a\x85b", "a\u2028b", "x" * 129]
)
def test_names_that_break_a_log_line_or_a_path_are_refused(name: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        valid_template_name(name)

    assert refused.value.reason == "invalid_template_name"
