"""moto's backends as the local stack's tests see them: in this process, shared by every test."""

from __future__ import annotations

from moto.backends import get_backend

from local_stack.moto_state import SERVICES


def forget_moto() -> None:
    """Empty the backends the stack uses, as a new stack process starts (or a restart finds)."""
    for service in SERVICES:
        get_backend(service).reset()
    # SES too (not kept in the state directory: the stack verifies its identities at start).
    get_backend("ses").reset()
    get_backend("sesv2").reset()
