"""A service's DKIM settings (`config.dkim`): the signing domain, the selector, and the key.

What is stored and shown (`DkimSettings`): `domain` (the signature's `d=`) and `selector`
(`s=`). What an admin sends besides (`DkimInput`): `private_key`, a PEM RSA key, which goes
to Secrets Manager with the service's other secrets and is never shown again. The record
receivers look up is `<selector>._domainkey.<domain>` (TXT); the connection test shows it.

The domain and the selector are ASCII DNS names as RFC 6376 §3.5 has them (letters, digits
and hyphens in dot-separated labels; the domain needs two labels at least). Each is kept in
lower case: DNS compares names without case. Every refusal is a 400 naming its field under
`config.dkim`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from core.dkim.keys import UnusableKey, invalid_key, parse_key
from core.errors import InvalidRequest

FIELD = "config.dkim"

# Either case is taken (and kept in lower case): the documented pattern says what is accepted.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")
_SELECTOR = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
# A DNS name's limit, for the whole name looked up: `<selector>._domainkey.<domain>`.
_MAX_RECORD_NAME = 253


def _dns_name(pattern: re.Pattern[str], name: str, what: str) -> BeforeValidator:
    def parse(value: Any) -> Any:
        if not isinstance(value, str):
            return value  # the field's type refuses it
        if not pattern.fullmatch(value):
            raise InvalidRequest(
                f"Invalid DKIM {name} '{value}': {what}.",
                reason="invalid_dkim_settings",
                context={"field": f"{FIELD}.{name}"},
            )
        return value.lower()

    return BeforeValidator(parse)


Domain = Annotated[
    str,
    Field(max_length=253, examples=["example.com"], json_schema_extra={"pattern": _DOMAIN.pattern}),
    _dns_name(_DOMAIN, "domain", "use a DNS name such as 'example.com' (ASCII, no trailing dot)"),
]
Selector = Annotated[
    str,
    # Its length is judged with the domain's: the name looked up must fit DNS.
    Field(max_length=253, examples=["mail2026"], json_schema_extra={"pattern": _SELECTOR.pattern}),
    _dns_name(_SELECTOR, "selector", "use letters, digits and hyphens, as in 'mail2026'"),
]


class DkimSettings(BaseModel):
    """What is stored and shown of a service's DKIM signing: never the key."""

    model_config = ConfigDict(extra="forbid")

    domain: Domain
    selector: Selector

    @model_validator(mode="after")
    def _record_name_fits(self) -> DkimSettings:
        if len(self.record_name) > _MAX_RECORD_NAME:
            raise InvalidRequest(
                f"The DKIM record's name '{self.record_name}' is longer than DNS allows"
                f" ({_MAX_RECORD_NAME} characters): use a shorter selector.",
                reason="invalid_dkim_settings",
                context={"field": f"{FIELD}.selector"},
            )
        return self

    @property
    def record_name(self) -> str:
        """Where receivers look the public key up (RFC 6376 §3.6.2.1)."""
        return f"{self.selector}._domainkey.{self.domain}"


class DkimInput(DkimSettings):
    """`config.dkim` as an admin sends it: the settings, and the private key (PEM)."""

    # A structural error's text (a number for the key, say) must not carry the key.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    private_key: str = Field(
        repr=False,
        json_schema_extra={"format": "password", "writeOnly": True},
        description="A PEM RSA private key (PKCS#1 or PKCS#8), 1024 to 4096 bits: kept in"
        " Secrets Manager, never shown.",
    )

    @model_validator(mode="after")
    def _usable_key(self) -> DkimInput:
        try:
            parse_key(self.private_key)
        except UnusableKey as error:
            raise invalid_key(error, f"{FIELD}.private_key") from None
        return self

    def stored(self) -> DkimSettings:
        return DkimSettings(domain=self.domain, selector=self.selector)
