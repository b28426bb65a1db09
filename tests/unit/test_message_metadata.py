"""A send's `metadata`: its limits, DreamFactory's placeholder when it is no object, and the
composed message carrying it with the tags."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.composition.compose import compose
from core.errors import InvalidRequest
from core.message_metadata import MAX_KEYS, MAX_TOTAL_BYTES, MAX_VALUE_LENGTH
from core.send_request import SendRequest, parse_send_request
from tests.support.fake_services import smtp_service

BODY = {"to": "john@example.com", "subject": "Hi", "body_text": "Hello"}


def _parse(**body: Any) -> SendRequest:
    return parse_send_request({**BODY, **body})


def _refused(**body: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as raised:
        _parse(**body)
    return raised.value


# --- metadata on the request ------------------------------------------------------------------


def test_metadata_is_kept_as_given_and_is_no_placeholder() -> None:
    request = _parse(metadata={"order_id": "A-1001", "tenant.region": "eu: west"})

    assert request.metadata == {"order_id": "A-1001", "tenant.region": "eu: west"}
    assert "metadata" not in request.placeholder_values()


def test_no_metadata_is_an_empty_map() -> None:
    assert _parse().metadata == {}
    assert _parse(metadata=None).metadata == {}


@pytest.mark.parametrize("value", ["spring sale", 3, 2.5, True])
def test_a_top_level_metadata_that_is_no_object_stays_a_placeholder_as_in_dreamfactory(
    value: str | int | float | bool,
) -> None:
    # A DreamFactory client knows no metadata: for it, `metadata` is one more placeholder.
    request = _parse(body_text="About {metadata}", metadata=value)

    assert request.metadata == {}
    assert request.placeholder_values()["metadata"] == str(value)


def test_tags_and_metadata_both_given_as_scalars_are_both_placeholders() -> None:
    values = _parse(tags="t", metadata="m", template_data={"metadata": "wins"}).placeholder_values()

    assert values["tags"] == "t"
    assert values["metadata"] == "wins"  # template_data wins, as over any top-level string


@pytest.mark.parametrize(
    ("metadata", "key"),
    [
        ({"bad key": "x"}, "bad key"),
        ({"": "x"}, ""),
        ({"k" * 41: "x"}, "k" * 41),
        ({"n": 42}, "n"),
        ({"n": None}, "n"),
        ({"n": ["a"]}, "n"),
        ({"long": "v" * (MAX_VALUE_LENGTH + 1)}, "long"),
        ({"line": "one\ntwo"}, "line"),
        ({"tab": "a\tb"}, "tab"),
    ],
    ids=["space", "empty-key", "long-key", "number", "null", "list", "long-value", "lf", "tab"],
)
def test_a_bad_entry_is_refused_naming_its_key(metadata: dict[str, Any], key: str) -> None:
    refused = _refused(metadata=metadata)

    assert refused.reason == "invalid_metadata"
    assert refused.context["key"] == key
    assert refused.context["field"] == f"metadata.{key}"


def test_too_many_keys_are_refused() -> None:
    refused = _refused(metadata={f"k{n}": "v" for n in range(MAX_KEYS + 1)})

    assert refused.reason == "invalid_metadata"
    assert refused.context["limit"] == MAX_KEYS


def test_more_than_the_total_size_is_refused() -> None:
    # Each entry within its own limits; together past the total (UTF-8 bytes, not characters).
    refused = _refused(metadata={f"k{n}": "é" * 200 for n in range(6)})

    assert refused.reason == "invalid_metadata"
    assert refused.context["limit"] == MAX_TOTAL_BYTES


def test_a_list_is_refused_not_taken_for_a_placeholder() -> None:
    refused = _refused(metadata=["a", "b"])

    assert refused.reason == "invalid_metadata"
    assert refused.context["field"] == "metadata"


# --- on the composed message ------------------------------------------------------------------


def test_the_composed_message_carries_tags_and_metadata_and_a_plain_service_no_header() -> None:
    request = _parse(tags=["invoice", "invoice", "n:1"], metadata={"order": "A 1"})

    message = compose(request, smtp_service(), now=datetime.now(UTC), size_limit=10**6)

    assert message.tags == ["invoice", "n:1"]
    assert message.metadata == {"order": "A 1"}
    assert message.headers == []
