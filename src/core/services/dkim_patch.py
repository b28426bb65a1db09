"""What a PATCH does to a service's DKIM settings and key.

- `config.dkim` merges key by key, as `config` does: `{"dkim": {"selector": "mail2027"}}`
  changes the selector alone and keeps the stored key; `{"dkim": {"domain", "selector",
  "private_key"}}` replaces them all. The merged settings are validated as a create would
  validate them, so the stored key stands in for a key left out.
- `{"dkim": null}` stops signing; once saved, the key leaves the service's secret.
- A key moves nowhere (it only signs, inside the function), so unlike the password, changing
  the domain or selector needs no key in the same request.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from core.credentials import ServiceCredentials
from core.dkim.config import DkimSettings
from core.services.config_input import ServiceConfigInput


def merged_dkim(
    current: DkimSettings | None, patch: dict[str, Any], stored: ServiceCredentials
) -> Any:
    """`config.dkim` to validate: the stored settings with the PATCH's laid over them, the
    stored key standing in for one left out (anything not an object is left for the 400)."""
    given = patch.get("dkim") if "dkim" in patch else {}
    if current is None or not isinstance(given, dict):
        return given if "dkim" in patch else None
    merged: dict[str, Any] = {**current.model_dump(), **given}
    if "private_key" not in given and stored.dkim_private_key is not None:
        merged["private_key"] = stored.dkim_private_key
    return merged


def with_dkim_key(
    credentials: ServiceCredentials, merged: ServiceConfigInput
) -> ServiceCredentials:
    """`credentials` holding the merged config's DKIM key, or none when it has no DKIM."""
    key = merged.dkim.private_key if merged.dkim is not None else None
    return replace(credentials, dkim_private_key=key)
