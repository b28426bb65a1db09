"""An attachment given in the send body: its content decoded from base64, its name made safe
to save under, its media type and (for an inline part) Content-ID checked; anything else is a
400 naming the field. (Files named by URL instead: `core.attachments.references`.)
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, model_validator

from core.addresses import reject_line_breaks
from core.errors import InvalidRequest

# ASCII only: a non-ASCII media type would become an encoded word, which MIME forbids there.
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][\w.+-]*/[\w.+-]+$", re.ASCII)


def _content_type(value: Any) -> Any:
    # A bare type/subtype: parameters and container types are ours to write, not the caller's.
    if value in (None, ""):
        return "application/octet-stream"
    if not isinstance(value, str):
        return value
    reject_line_breaks(value, "attachments.content_type")
    if not _MEDIA_TYPE.match(value) or value.lower().startswith(("multipart/", "message/")):
        raise InvalidRequest(
            f"Invalid attachment content_type '{value}': expected a media type like"
            " 'application/pdf'.",
            context={"field": "attachments.content_type"},
        )
    return value.lower()


# Unicode categories that have no business in a file name: controls, format characters
# (bidi overrides such as U+202E turn "invoice\u202efdp.exe" into "invoiceexe.pdf" on screen,
# zero-width joiners), line and paragraph separators, private use, unassigned, surrogates.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs"})
# Characters Windows forbids in names, and path separators of every system.
_RESERVED = re.compile(r'[<>:"/\\|?*]')
_EDGES = re.compile(r"^[\s.]+|[\s.]+$")
MAX_FILENAME_LENGTH = 255


def safe_filename(name: str) -> str:
    """The attachment name a recipient's machine can safely save under: the last path
    segment only, without control, bidi or reserved characters; Unicode kept (NFC)."""
    base = unicodedata.normalize("NFC", name).replace("\\", "/").rpartition("/")[2]
    cleaned = "".join(
        character for character in base if unicodedata.category(character) not in _UNSAFE_CATEGORIES
    )
    # Leading dots hide a file, trailing ones and spaces Windows drops; readers strip spaces.
    cleaned = _EDGES.sub("", _RESERVED.sub("_", cleaned))
    if len(cleaned) > MAX_FILENAME_LENGTH:
        _stem, dot, extension = cleaned.rpartition(".")
        keep = extension if dot and len(extension) <= 16 else ""
        cleaned = _EDGES.sub("", cleaned[: MAX_FILENAME_LENGTH - len(keep) - 1]) + (
            "." + keep if keep else ""
        )
    return cleaned or "attachment"


# An inline part's Content-ID, written as `<id>`: RFC 5322's atom characters and at most one
# '@' (no '<', '>', space, quote or line break), without '=?' (an encoded word to a reader).
MAX_CONTENT_ID_LENGTH = 128
_CONTENT_ID_CHARACTERS = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+"
_CONTENT_ID = re.compile(rf"{_CONTENT_ID_CHARACTERS}(@{_CONTENT_ID_CHARACTERS})?", re.ASCII)


def _content_id(value: Any) -> Any:
    return check_content_id(value) if isinstance(value, str) else value


def check_content_id(value: Any, field: str = "attachments.content_id") -> str | None:
    """An inline part's `content_id` as given (None when empty), or a 400."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidRequest(
            f"Invalid '{field}': must be a string.",
            reason="invalid_content_id",
            context={"field": field},
        )
    reject_line_breaks(value, field)
    if not _CONTENT_ID.fullmatch(value) or "=?" in value or len(value) > MAX_CONTENT_ID_LENGTH:
        raise InvalidRequest(
            f"Invalid attachment content_id {value[:MAX_CONTENT_ID_LENGTH]!r}: expected up to"
            f" {MAX_CONTENT_ID_LENGTH} letters, digits and symbols such as '.-_', with at most"
            " one '@', and without the angle brackets ('logo', 'logo.png@example.com').",
            reason="invalid_content_id",
            context={"field": field},
        )
    return value


class Attachment(BaseModel):
    """One attachment, its content already decoded from base64, its name made safe; with a
    `content_id`, an inline part (an image `body_html` shows as `cid:<content_id>`)."""

    name: Annotated[
        str,
        # Line breaks are refused as anywhere in a header; other controls are dropped.
        BeforeValidator(
            lambda value: (
                reject_line_breaks(value, "attachments.name") if isinstance(value, str) else value
            )
        ),
        Field(min_length=1),
        AfterValidator(safe_filename),
    ]
    content: Annotated[bytes, BeforeValidator(lambda value: _decode_base64(value))] = Field(
        json_schema_extra={"format": "base64"}
    )
    content_type: Annotated[str, BeforeValidator(_content_type)] = "application/octet-stream"
    content_id: Annotated[
        # The length bound on the text alone: an empty id is read as none (None).
        Annotated[str, Field(max_length=MAX_CONTENT_ID_LENGTH)] | None,
        BeforeValidator(_content_id),
        Field(
            description="Makes the file an inline part, shown where `body_html` says"
            ' `cid:` and this id (`<img src="cid:logo">`); unique within the message, without'
            " angle brackets.",
        ),
    ] = None
    disposition: Literal["attachment", "inline"] | None = Field(
        default=None,
        description='`"inline"` (needs a `content_id`) or `"attachment"` (the default, not'
        " with a `content_id`).",
    )

    @model_validator(mode="after")
    def _inline_has_content_id(self) -> Attachment:
        inline = self.content_id is not None
        if self.disposition is not None and (self.disposition == "inline") != inline:
            raise InvalidRequest(
                f"Invalid attachment '{self.name}': an inline part needs a 'content_id', and"
                " one with a 'content_id' is inline ('disposition' may be left out).",
                reason="invalid_attachment",
                context={"field": "attachments.disposition"},
            )
        return self


def _decode_base64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise InvalidRequest(
            "Invalid attachment content: must be a base64 string.", reason="invalid_base64"
        )
    # `base64 file` wraps lines; accept that, but nothing else outside the alphabet.
    compact = "".join(value.split())
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidRequest(
            "Invalid attachment content: not valid base64.", reason="invalid_base64"
        ) from error
