"""SES message tags from a message's `tags` and `metadata`: how one maps onto the other, and
what SES cannot carry.

SES labels a message with name/value pairs (its API's `EmailTags`, or the
`X-SES-MESSAGE-TAGS` header over its SMTP interface), which it repeats in every event it
publishes about the message (through a configuration set). The mapping:

- a metadata entry is the pair as it is: `{"campaign": "spring"}` -> `campaign=spring`;
- a tag (a label without a value) is a pair whose value is `true`: `invoice` -> `invoice=true`.

SES allows only ASCII letters, digits, `_` and `-` in a name and in a value (1 to 256 of
them), so a tag such as `customer:1042`, a metadata value with a space, or an empty value
cannot go: for a service that sends SES tags such a message is refused (400,
`invalid_ses_tag`, naming the tag or key) before anything is sent, rather than sent with its
labels changed or dropped. A name given both as a tag and as a metadata key is refused the
same way. SES takes at most 50 tags a message; a send has at most 10 tags and 10 metadata keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from core.errors import InvalidRequest

# A tag's value in SES, for a label that has none.
TAG_VALUE = "true"
MAX_SES_TAGS = 50
_SES_TEXT = re.compile(r"[A-Za-z0-9_-]{1,256}")


def tag_pairs(tags: Iterable[str], metadata: Mapping[str, str]) -> list[tuple[str, str]]:
    """The SES message tags (name, value) for a message's `tags` and `metadata`, tags first,
    unchecked: what `ses_tags` refused SES refuses too (a message queued before its service
    became one that sends SES tags fails with SES's refusal, not with a 400 nobody reads)."""
    return [(tag, TAG_VALUE) for tag in tags] + list(metadata.items())


def ses_tags(tags: Iterable[str], metadata: Mapping[str, str]) -> list[tuple[str, str]]:
    """`tag_pairs`, or a 400 naming the first tag or metadata entry SES cannot carry."""
    tags = list(tags)
    pairs: dict[str, str] = {}
    for tag in tags:
        if not _SES_TEXT.fullmatch(tag):
            raise _refused(
                f"The tag {tag!r} cannot be an SES message tag",
                field="tags",
                context={"tag": tag},
            )
        pairs[tag] = TAG_VALUE
    for key, value in metadata.items():
        field, named = f"metadata.{key}", {"key": key}
        if not _SES_TEXT.fullmatch(key):
            what = f"The metadata key {key!r} cannot be an SES message tag's name"
            raise _refused(what, field=field, context=named)
        if not _SES_TEXT.fullmatch(value):
            what = f"The metadata value of {key!r} cannot be an SES message tag's value"
            raise _refused(what, field=field, context=named)
        if key in pairs:
            raise InvalidRequest(
                f"'{key}' is both a tag and a metadata key: as SES message tags both would be"
                f" named '{key}'. Use one of them.",
                reason="invalid_ses_tag",
                context={"field": f"metadata.{key}", "key": key},
            )
        pairs[key] = value
    if len(pairs) > MAX_SES_TAGS:  # unreachable with today's limits; SES's own, kept here
        raise InvalidRequest(
            f"A message may have at most {MAX_SES_TAGS} SES message tags; it has {len(pairs)}.",
            reason="invalid_ses_tag",
            context={"field": "tags", "limit": MAX_SES_TAGS},
        )
    return tag_pairs(tags, metadata)


def header_value(pairs: Iterable[tuple[str, str]]) -> str:
    """`X-SES-MESSAGE-TAGS`'s value: `name=value, name=value`."""
    return ", ".join(f"{name}={value}" for name, value in pairs)


def _refused(what: str, *, field: str, context: dict[str, str]) -> InvalidRequest:
    return InvalidRequest(
        f"{what}: SES allows only ASCII letters, digits, '_' and '-' (1 to 256 of them) in a"
        " message tag's name and value, and this service sends SES message tags.",
        reason="invalid_ses_tag",
        context={"field": field, **context},
    )
