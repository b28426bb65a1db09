"""Who may use the mail viewer: the developer's browser on this page, and local programs.

The viewer is a web page, so unlike the Invoke and moto ports (`local_stack.browser_guard`)
it must answer browsers; captured mail holds password-reset links, so no other site's page may
read or delete it:

- `Host` must name loopback, as on every port of the stack: a DNS-rebound name reaches
  127.0.0.1 but still says its own name;
- a request that says it comes from another site (`Sec-Fetch-Site` other than same-origin or
  none, i.e. typed or bookmarked) is refused, except a top-level visit to the page itself
  (a link to it from elsewhere; the page is never framed);
- an `Origin`, when sent, must be the viewer's own;
- a DELETE must carry `X-Mail-Viewer: delete`, a header no page of another origin may send
  without a CORS preflight, which the viewer never grants. The page sends it; so can curl.

Pure, so unit tests can pin it down.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from local_stack.browser_guard import is_loopback_host

DELETE_HEADER = "X-Mail-Viewer"
DELETE_HEADER_VALUE = "delete"
# What `Sec-Fetch-Site` says of a request from this page, or of one the user typed.
_OWN_SITE = frozenset({"same-origin", "none"})


def viewer_refusal(
    method: str,
    hosts: Sequence[str] | None,
    headers: Mapping[str, str],
    *,
    is_page: bool,
) -> str | None:
    """Why the viewer will not answer this request (for a 403), or None. `headers` are the
    request's, their names in lower case; `is_page`: the request is for the HTML page."""
    if not is_loopback_host(hosts):
        return "The mail viewer answers only a loopback Host (127.0.0.1, localhost, [::1])."
    assert hosts is not None  # what is_loopback_host checked
    site = headers.get("sec-fetch-site")
    if site is not None and site not in _OWN_SITE and not _is_visit(method, headers, is_page):
        return "The mail viewer answers only its own page, not another site's."
    origin = headers.get("origin")
    if origin is not None and origin != f"http://{hosts[0].strip()}":
        return "The mail viewer answers only its own page, not another origin's."
    if method == "DELETE" and headers.get(DELETE_HEADER.lower()) != DELETE_HEADER_VALUE:
        return f"A DELETE needs the header `{DELETE_HEADER}: {DELETE_HEADER_VALUE}`."
    return None


def _is_visit(method: str, headers: Mapping[str, str], is_page: bool) -> bool:
    """A top-level navigation to the page: following a link to it reads nothing of the mail
    (the page fetches that itself, as same-origin)."""
    return (
        is_page
        and method in ("GET", "HEAD")
        and headers.get("sec-fetch-mode") == "navigate"
        and headers.get("sec-fetch-dest") == "document"
    )
