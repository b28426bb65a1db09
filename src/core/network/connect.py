"""Opening a TCP connection to addresses the destination guard checked beforehand."""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence


def connect_first(
    addresses: Sequence[str],
    port: int,
    time_left: Callable[[], float],
    *,
    no_delay: bool = False,
) -> socket.socket:
    """A TCP connection to the first of `addresses` that answers (as `create_connection` tries
    each address a name resolves to); each is an IP literal, so nothing is looked up here.

    Each attempt waits no longer than `time_left()`, asked afresh before it (and raising
    `TimeoutError` itself once no time is left); with `no_delay` every write goes out at once
    (TCP_NODELAY). Raises the last attempt's `OSError` when none answers."""
    failure: OSError = OSError("the host resolved to no address")
    for address in addresses:
        timeout = time_left()  # outside the `try`: no time left ends the tries
        try:
            sock = socket.create_connection((address, port), timeout)
        except OSError as error:  # a timeout too: the next address may get what time is left
            failure = error
            continue
        if no_delay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise failure
