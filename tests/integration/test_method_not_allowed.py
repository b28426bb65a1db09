"""A method a path does not have: 405 with `Allow`, behind API Gateway as deployed.

API Gateway answers a method it has no route for by itself (MISSING_AUTHENTICATION_TOKEN, a 404
here), and the API function answered one it got with a 404 too: a client could not tell a wrong
method from a wrong path. The template routes every method of each path to the function, after
the authorizer, and the function names the methods the path has.
"""

from __future__ import annotations

import pytest

from tests.support.api import call_api, create_service

pytestmark = pytest.mark.usefixtures("aws")

# (method, path, what `Allow` must say)
WRONG_METHODS = [
    ("GET", "/api/v2/email", "POST"),
    ("PUT", "/api/v2/email", "POST"),
    ("DELETE", "/api/v2/email/preview", "POST"),
    # The system resources take DreamFactory's PUT and batch verbs (tests/integration/
    # test_dreamfactory_verbs.py); a POST to a record is a 405 unless it overrides its verb.
    ("TRACE", "/api/v2/system/service", "DELETE, GET, PATCH, POST, PUT"),
    ("POST", "/api/v2/system/service/email", "DELETE, GET, PATCH, PUT"),
    ("GET", "/api/v2/system/service/email/test", "POST"),
    ("TRACE", "/api/v2/system/role", "DELETE, GET, PATCH, POST, PUT"),
    ("POST", "/api/v2/system/role/billing", "DELETE, GET, PATCH, PUT"),
    ("POST", "/api/v2/system/email_template/welcome", "DELETE, GET, PATCH, PUT"),
    ("POST", "/api/v2/system/api_key/abc", "DELETE, GET, PATCH, PUT"),
    ("GET", "/api/v2/system/api_key/abc/rotate", "POST"),
    ("POST", "/api/v2/email/messages/abc", "DELETE, GET"),
    ("HEAD", "/api/v2/system/service", "DELETE, GET, PATCH, POST, PUT"),
]


@pytest.mark.parametrize(("method", "path", "allowed"), WRONG_METHODS)
def test_a_method_the_path_does_not_have_is_a_405_naming_those_it_has(
    method: str, path: str, allowed: str
) -> None:
    create_service({"host": "127.0.0.1", "port": 2525, "encryption": "none"})

    response = call_api(method, path)

    assert response.status == 405, response.body
    assert response.headers["Allow"] == allowed
    if method != "HEAD":
        assert response.reason == "method_not_allowed"


def test_the_swagger_page_answers_a_wrong_method_with_405_too_without_a_key() -> None:
    response = call_api("POST", "/swagger", api_key=None)

    assert response.status == 405
    assert response.headers["Allow"] == "GET"


def test_a_wrong_method_still_needs_a_key() -> None:
    """The authorizer runs first, as for any route: no key, no word on what the path has."""
    response = call_api("PUT", "/api/v2/system/service", api_key=None)

    assert response.status == 401
    assert "Allow" not in response.headers


def test_a_path_that_does_not_exist_is_still_a_404() -> None:
    response = call_api("GET", "/api/v2/system/nothing/here")

    assert response.status == 404
    assert response.reason == "route_not_found"
    assert "Allow" not in response.headers
