"""How many examples a property test tries: its own count, or at most PROPERTY_EXAMPLES when
that is set (`make check` sets it, for a fast inner loop; `make test` tries them all)."""

from __future__ import annotations

import os


def examples(full: int) -> int:
    cap = os.environ.get("PROPERTY_EXAMPLES")
    return min(full, int(cap)) if cap else full
