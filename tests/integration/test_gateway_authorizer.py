"""The authorizer in front of the API function, as API Gateway runs it (and `call_api` does).

The authorizer checks the key once; the API function trusts the role it names. Without the
authorizer's context (`sam local invoke`), the API function checks the key itself, and
answers exactly as API Gateway does when the authorizer refuses.
"""

from __future__ import annotations

from typing import Any

import pytest

from core.access.authentication import Authenticator
from tests.support.api import ADMIN_KEY, call_api

pytestmark = pytest.mark.usefixtures("aws")


class _Calls:
    """Records each call of the Authenticator's two entry points, then lets it run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.authenticate: list[str | None] = []
        self.principal_for: list[tuple[str, str]] = []
        authenticate, principal_for = Authenticator.authenticate, Authenticator.principal_for

        def spy_authenticate(authenticator: Authenticator, presented: str | None) -> Any:
            self.authenticate.append(presented)
            return authenticate(authenticator, presented)

        def spy_principal_for(authenticator: Authenticator, key_id: str, role: str) -> Any:
            self.principal_for.append((key_id, role))
            return principal_for(authenticator, key_id, role)

        monkeypatch.setattr(Authenticator, "authenticate", spy_authenticate)
        monkeypatch.setattr(Authenticator, "principal_for", spy_principal_for)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> _Calls:
    return _Calls(monkeypatch)


def test_api_function_acts_on_the_authorizers_verdict(calls: _Calls) -> None:
    response = call_api("GET", "/api/v2/system/service")

    assert response.status == 200, response.body
    assert calls.authenticate == [ADMIN_KEY]  # by the authorizer, once
    assert calls.principal_for == [("bootstrap", "bootstrap-admin")]  # by the API function


def test_without_the_authorizer_the_api_function_checks_the_key(calls: _Calls) -> None:
    response = call_api("GET", "/api/v2/system/service", via_authorizer=False)

    assert response.status == 200, response.body
    assert calls.authenticate == [ADMIN_KEY]
    assert calls.principal_for == []


@pytest.mark.parametrize("api_key", [None, "wrong-key"], ids=["missing", "unknown"])
def test_refused_key_is_the_same_401_either_way(calls: _Calls, api_key: str | None) -> None:
    refused = call_api("GET", "/api/v2/system/service", api_key=api_key)
    assert calls.principal_for == []  # the API function never ran

    own = call_api("GET", "/api/v2/system/service", api_key=api_key, via_authorizer=False)

    assert (refused.status, refused.body) == (own.status, own.body)
    assert refused.reason == "unauthorized"


def test_unknown_route_is_404_before_any_key_check(calls: _Calls) -> None:
    answered = call_api("GET", "/api/v2/email/unknown", api_key=None)
    assert calls.authenticate == []

    own = call_api("GET", "/api/v2/email/unknown", via_authorizer=False)

    assert (answered.status, answered.reason) == (404, "route_not_found")
    assert answered.body == own.body
