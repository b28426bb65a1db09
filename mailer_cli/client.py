"""The API over HTTP: one JSON request, one JSON answer, and the two ways that can fail."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from mailer_cli.errors import ApiError, Unreachable, UsageError

API_PREFIX = "/api/v2"
KEY_HEADER = "X-DreamFactory-API-Key"
USER_AGENT = "mailer-cli"


def api_root(url: str) -> str:
    """The `/api/v2/` root under a base URL given with or without `/api/v2`, always with a `/`."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"the API URL must be an http:// or https:// URL, not {url!r}")
    if parts.query or parts.fragment:
        raise UsageError(f"the API URL must not carry a query or fragment: {url!r}")
    path = parts.path.rstrip("/").removesuffix(API_PREFIX)
    return urlunsplit((parts.scheme, parts.netloc, f"{path}{API_PREFIX}/", "", ""))


def resource_path(*segments: str) -> str:
    """A path under the API root, each segment percent-encoded (a name may not add a `/`)."""
    return "/".join(quote(segment, safe="") for segment in segments)


def with_query(path: str, query: dict[str, Any]) -> str:
    """`path` with the query parameters that have a value (None and "" are left out)."""
    given = {name: value for name, value in query.items() if value is not None and value != ""}
    return f"{path}?{urlencode(given)}" if given else path


class Opener(Protocol):
    """What sends the request: `urllib.request.urlopen`, or a fake in unit tests."""

    def __call__(self, request: urllib.request.Request, /, *, timeout: float) -> Any: ...


@dataclass(frozen=True)
class ApiClient:
    """The API at `root` (see `api_root`), called with one key."""

    root: str
    api_key: str
    timeout: float
    opener: Opener = urllib.request.urlopen

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        return self.request("POST", path, body, headers)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def request(
        self, method: str, path: str, body: Any = None, extra_headers: dict[str, str] | None = None
    ) -> Any:
        """The decoded JSON answer of a 2xx; `ApiError` for any other status, else `Unreachable`."""
        data = None if body is None else json.dumps(body).encode()
        headers = {**(extra_headers or {}), "Accept": "application/json", "User-Agent": USER_AGENT}
        if self.api_key:  # every API path needs one; the local stack's own paths take none
            headers[KEY_HEADER] = self.api_key
        if data is not None:
            headers["Content-Type"] = "application/json"
        # `root` passed `api_root`, so the scheme is http or https, never file: or the like.
        request = urllib.request.Request(  # noqa: S310
            self.root + path, data=data, headers=headers, method=method
        )
        try:
            with self.opener(request, timeout=self.timeout) as answer:
                return _decode(answer.read())
        except urllib.error.HTTPError as error:
            with error:
                raise ApiError(
                    error.code, _decode(error.read()), dict(error.headers.items())
                ) from None
        except urllib.error.URLError as error:
            raise Unreachable(f"could not reach {self.root}: {error.reason}") from error
        except (OSError, http.client.HTTPException) as error:
            # Timeouts while reading, resets, a server that hangs up without answering.
            raise Unreachable(
                f"could not reach {self.root}: {str(error) or type(error).__name__}"
            ) from error


def _decode(content: bytes) -> Any:
    """JSON if it is JSON; else the text as it came (a proxy's HTML error page, say)."""
    if not content:
        return None
    text = content.decode(errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text
