"""The CORS origins setting: origins as browsers send them, checked when a function starts.

DreamFactory's `cors_config.origin` is a comma-separated list too (df-core
`src/Providers/CorsServiceProvider.php` line 82, `explode(',', $bestMatch->origin)`), compared
as written with the request's `Origin`; a typo there silently never matches. Here it fails the
start instead, naming the entry."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from core.browser_origins import parse_allowed_origins
from core.settings import ConfigurationError, check_settings, get_settings
from local_stack.template_tables import load_template


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("setting", "origins"),
    [
        ("", ()),
        (" , ", ()),
        ("https://app.example.com", ("https://app.example.com",)),
        (
            "https://app.example.com, http://localhost:8080",
            ("https://app.example.com", "http://localhost:8080"),
        ),
        # As a browser writes them: lower case, the scheme's own port left out, once each.
        ("HTTPS://App.Example.com:443", ("https://app.example.com",)),
        ("http://127.0.0.1:80,http://127.0.0.1", ("http://127.0.0.1",)),
        ("http://[::1]:5173", ("http://[::1]:5173",)),
        ("*", ("*",)),
    ],
)
def test_origins_are_read_as_browsers_send_them(setting: str, origins: tuple[str, ...]) -> None:
    assert parse_allowed_origins(setting) == origins


@pytest.mark.parametrize(
    ("setting", "why"),
    [
        ("https://app.example.com/", "not even '/'"),
        ("https://app.example.com/app", "nothing may follow"),
        ("https://app.example.com?x=1", "nothing may follow"),
        ("app.example.com", "http:// or https://"),
        ("ftp://app.example.com", "http:// or https://"),
        ("null", "http:// or https://"),
        ("https://user@app.example.com", "may not name a user"),
        ("https://app.example.com:99999", "port"),
        ("https://app.example.com:0", "port"),
        ("*,https://app.example.com", "list it alone"),
    ],
)
def test_what_no_browser_would_send_is_refused_naming_it(setting: str, why: str) -> None:
    with pytest.raises(ValueError, match=re.escape(why)):
        parse_allowed_origins(setting)


def test_a_bad_origin_fails_the_functions_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://app.example.com/")

    with pytest.raises(ConfigurationError) as raised:
        check_settings()

    assert list(raised.value.invalid) == ["CORS_ALLOWED_ORIGINS"]
    assert "'https://app.example.com/' is not an origin" in str(raised.value)


def test_none_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CORS_ALLOWED_ORIGINS", raising=False)

    assert get_settings().cors_allowed_origins == ()


# What CloudFormation checks at deploy time (the parameter's AllowedPattern, a Java regex that
# Python reads alike here) must be what the function accepts, as written.
PATTERN = re.compile(load_template()["Parameters"]["CorsAllowedOrigins"]["AllowedPattern"])


@pytest.mark.parametrize(
    "setting",
    [
        "",
        "*",
        "https://app.example.com",
        "https://app.example.com,http://localhost:8080",
        "http://127.0.0.1:5173",
        "http://[::1]:5173",
    ],
)
def test_the_template_takes_what_the_function_reads_unchanged(setting: str) -> None:
    assert PATTERN.fullmatch(setting)
    assert ",".join(parse_allowed_origins(setting)) == setting


@pytest.mark.parametrize(
    "setting",
    [
        "https://app.example.com/",
        "https://App.example.com",
        "app.example.com",
        "https://app.example.com, http://localhost:8080",
        "*,https://app.example.com",
        "null",
    ],
)
def test_the_template_refuses_what_is_no_origin_as_browsers_write_it(setting: str) -> None:
    assert not PATTERN.fullmatch(setting)
