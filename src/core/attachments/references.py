"""What DreamFactory's `attachment` and `import_url` fields name, checked before anything is
fetched.

Each field holds a URL, several separated by commas, or a list of URLs; `attachment` may also
hold base64 files `{name, content, content_type}`, which are this API's `attachments` under
another name and are checked by that same model. Not DreamFactory's: a list entry
`{"url", "content_id"}` is a URL whose file is shown inline in the HTML (`cid:`). A URL is
checked for its form only (where it points is judged after DNS, when it is fetched:
`core.attachments.fetch`):

- `https`, or `http` when the operator allows it (OUTBOUND_ALLOW_HTTP); no other scheme;
- no user name or password in it: a credential in a URL ends up in logs and proxies;
- a host that is a DNS name or an IP literal (any spelling, judged as the address it is);
- at most `MAX_URL_LENGTH` characters and no whitespace or control characters;
- at most `MAX_REFERENCES` URLs a message, both fields together: each one is a fetch.

Anything else is a 400 naming the field, never a silent drop: a client that gets its mail
without the file it asked for learns too late. DreamFactory's storage-service form
(`{service, path}`) has nothing to read from here and is refused as such.

A URL's query string often carries a signature or a token, so it never appears in an error
message or a log line: `Reference.redacted` is the URL as shown.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any, Literal, cast, get_args
from urllib.parse import quote, unquote, urlsplit

from pydantic import ValidationError

from core.attachments.model import Attachment, check_content_id, safe_filename
from core.errors import InvalidRequest
from core.network.destination import ip_literal, is_host_name, normalize_host
from core.settings import get_settings
from core.validation import invalid_request_from

ReferenceField = Literal["attachment", "import_url"]
FIELDS: tuple[ReferenceField, ...] = get_args(ReferenceField)

# Each URL is a fetch within one request's time: a handful is what a message needs.
MAX_REFERENCES = 10
# What browsers and servers reliably take; a presigned S3 URL is well under it.
MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"https": 443, "http": 80}
# Reserved and unreserved characters (RFC 3986) and '%': what a URL may already hold. Anything
# else (non-ASCII, say) is percent-encoded, as a browser does before sending.
_PATH_SAFE = "/%!$&'()*+,;=:@-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
_USERINFO = re.compile(r"//[^/]*@")


class InlineAttachment(Attachment):
    """A base64 file in `attachment`: exactly this API's `attachments` entry, checked the same."""


@dataclasses.dataclass(frozen=True)
class Reference:
    """A file by URL, well-formed (where it points is checked when it is fetched)."""

    field: ReferenceField
    scheme: Literal["https", "http"]
    host: str  # an ASCII (IDNA) name, or an IP literal in its canonical form, no brackets
    port: int
    path: str  # percent-encoded, starting with "/"
    # Often a signature or a token: used for the request only, never shown.
    query: str = dataclasses.field(default="", repr=False)
    # Given as `{"url", "content_id"}`: the fetched file is an inline part
    # (`core.composition.inline_parts`).
    content_id: str | None = None

    @property
    def target(self) -> str:
        """The request target: path and query."""
        return f"{self.path}?{self.query}" if self.query else self.path

    @property
    def redacted(self) -> str:
        """The URL without its query: what messages and logs show."""
        return f"{self.scheme}://{self._authority()}{self.path}"

    @property
    def full_url(self) -> str:
        """The whole URL, query included: for resolving a redirect, never for display."""
        return f"{self.scheme}://{self._authority()}{self.target}"

    @property
    def filename(self) -> str:
        """The attachment's name: the path's last segment, percent-decoded, made safe."""
        return safe_filename(unquote(self.path.rpartition("/")[2]))

    def _authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def parse_references(
    field: str, value: Any, *, allow_http: bool | None = None
) -> list[Reference | InlineAttachment]:
    """What a DreamFactory `attachment` or `import_url` value names, in order; 400 otherwise.

    `None`, an empty string and an empty list name nothing. `allow_http` defaults to the
    operator's OUTBOUND_ALLOW_HTTP.
    """
    name = _field(field)
    if allow_http is None:
        allow_http = get_settings().outbound_allow_http
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, list):
        items = value
    elif isinstance(value, dict):
        items = [value]
    else:
        raise _invalid(name, "expected a URL, URLs separated by commas, or a list of them")
    _refuse_too_many(
        name,
        sum(isinstance(item, str) or (isinstance(item, dict) and "url" in item) for item in items),
    )
    return [_entry(name, index, item, allow_http) for index, item in enumerate(items)]


def parse_reference_fields(
    values: Mapping[str, Any], *, allow_http: bool | None = None
) -> list[Reference | InlineAttachment]:
    """Both fields of a request body (`attachment` first), with the per-message URL limit."""
    entries = [
        entry
        for name in FIELDS
        for entry in parse_references(name, values.get(name), allow_http=allow_http)
    ]
    _refuse_too_many(None, sum(isinstance(entry, Reference) for entry in entries))
    return entries


def parse_url(field: str, text: str, *, allow_http: bool) -> Reference:
    """One URL, checked for its form (see the module's docstring); 400 otherwise.

    Also what a redirect's `Location` is held to.
    """
    name = _field(field)
    url = text.strip()
    shown = _shown(url)
    if not url:
        raise _invalid(name, "an entry is empty (a stray comma?)")
    if len(url) > MAX_URL_LENGTH:
        raise _invalid(name, f"a URL is longer than {MAX_URL_LENGTH} characters")
    if any(character.isspace() or not character.isprintable() for character in url):
        raise _invalid(name, f"the URL {shown!r} holds whitespace or a control character")
    try:
        parts = urlsplit(url)
    except ValueError:  # an unbalanced '[' or ']'
        raise _invalid(name, f"the URL {shown!r} cannot be read") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise _scheme_forbidden(name, shown, scheme, allow_http)
    if scheme == "http" and not allow_http:
        raise _scheme_forbidden(name, shown, scheme, allow_http)
    if "@" in parts.netloc:
        raise InvalidRequest(
            f"Invalid '{name}': the URL {shown!r} holds a user name or password; put no"
            " credentials in attachment URLs.",
            reason="attachment_userinfo_forbidden",
            context={"field": name},
        )
    host = _host(name, shown, parts.hostname or "", bracketed="[" in parts.netloc)
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise _invalid(name, f"the URL {shown!r} has an invalid port")
    return Reference(
        field=name,
        scheme=cast(Literal["https", "http"], scheme),
        host=host,
        port=port if port is not None else DEFAULT_PORTS[scheme],
        path=quote(parts.path or "/", safe=_PATH_SAFE),
        query=quote(parts.query, safe=_QUERY_SAFE),
    )


# --- the parts -----------------------------------------------------------------------------------


def _entry(
    field: ReferenceField, index: int, item: Any, allow_http: bool
) -> Reference | InlineAttachment:
    if isinstance(item, str):
        return parse_url(field, item, allow_http=allow_http)
    if isinstance(item, dict) and field == "attachment" and "content" in item:
        return _inline(field, index, item)
    if isinstance(item, dict) and "url" in item:
        return _url_entry(field, index, item, allow_http)
    if isinstance(item, dict) and "service" in item:
        raise InvalidRequest(
            f"Invalid '{field}': storage-service files ({{service, path}}) cannot be attached"
            " here; give a URL, or the file as base64 in 'attachments'.",
            reason="attachment_storage_unsupported",
            context={"field": field},
        )
    expected = "a URL" if field == "import_url" else "a URL or {name, content, content_type}"
    raise _invalid(field, f"entry {index} is not {expected}")


def _inline(field: ReferenceField, index: int, item: dict[str, Any]) -> InlineAttachment:
    where = f"{field}.{index}"
    try:
        return InlineAttachment.model_validate(item)
    except ValidationError as error:
        problem = invalid_request_from(error, prefix=where)
        raise InvalidRequest(
            problem.message,
            reason="invalid_attachment",
            context={**problem.context, "field": where},
        ) from error
    except InvalidRequest as error:  # the model's own checks (base64, line breaks) raise these
        raise InvalidRequest(
            f"Invalid '{where}': {error.message}", reason=error.reason, context={"field": where}
        ) from error


def _url_entry(
    field: ReferenceField, index: int, item: dict[str, Any], allow_http: bool
) -> Reference:
    """`{"url", "content_id"}`: a file by URL shown inline (not DreamFactory's: its entries
    are bare URLs, which stay attachments, and an object without `content_id` is refused)."""
    where = f"{field}.{index}"
    url, content_id = item.get("url"), item.get("content_id")
    unknown = set(item) - {"url", "content_id"}
    if not isinstance(url, str) or content_id is None or unknown:
        # A URL alone is written as a string; the object is for an inline part.
        raise _invalid(field, f"entry {index} must be {{'url', 'content_id'}} (strings)")
    try:
        checked_id = check_content_id(content_id, f"{where}.content_id")
    except InvalidRequest as error:
        raise InvalidRequest(error.message, reason=error.reason, context={"field": where}) from None
    reference = parse_url(field, url, allow_http=allow_http)
    return dataclasses.replace(reference, content_id=checked_id)


def _host(field: ReferenceField, shown: str, host: str, *, bracketed: bool) -> str:
    """The host as it is connected to: a canonical IP literal or an ASCII name."""
    address = ip_literal(host)
    if address is not None:
        return normalize_host(host)
    if not bracketed and is_host_name(host):
        return host.removesuffix(".").encode("idna").decode("ascii")
    raise _invalid(field, f"the URL {shown!r} has no valid host")


def _refuse_too_many(field: ReferenceField | None, count: int) -> None:
    if count > MAX_REFERENCES:
        where = f"'{field}'" if field else "'attachment' and 'import_url' together"
        raise InvalidRequest(
            f"{where} name {count} URLs; a message may fetch at most {MAX_REFERENCES}.",
            reason="too_many_attachment_references",
            context={"field": field or "attachment", "count": count, "limit": MAX_REFERENCES},
        )


def _field(field: str) -> ReferenceField:
    if field not in FIELDS:
        raise ValueError(f"not a reference field: {field!r}")  # a caller's bug, not a 400
    return field


def _shown(url: str) -> str:
    """A URL as an error may show it: no credentials, query or fragment, and not too long."""
    base = _USERINFO.sub("//", url.partition("?")[0].partition("#")[0], count=1)
    return base if len(base) <= 200 else base[:200] + "..."


def _invalid(field: ReferenceField, why: str) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid '{field}': {why}.",
        reason="invalid_attachment_reference",
        context={"field": field},
    )


def _scheme_forbidden(
    field: ReferenceField, shown: str, scheme: str, allow_http: bool
) -> InvalidRequest:
    allowed = "https or http" if allow_http else "https"
    hint = "" if allow_http or scheme != "http" else " (the operator has not allowed plain http)"
    what = f"'{scheme}'" if scheme else "no scheme"
    return InvalidRequest(
        f"Invalid '{field}': the URL {shown!r} has {what}; only {allowed} URLs can be"
        f" attached{hint}.",
        reason="attachment_scheme_forbidden",
        context={"field": field},
    )
