"""Peak RSS of composing, sealing and sending the largest message the API accepts (run by
`bench.run` in a process of its own, so nothing else is counted): prints JSON.

The request carries one attachment, base64 as in the API's JSON, sized so that the sealed
message comes just under MAX_MESSAGE_BYTES (5 MiB by default).
"""

from __future__ import annotations

import base64
import json
import os
import resource
import sys
from datetime import UTC, datetime

from bench import environment


def _peak_mb() -> float:
    """This process's peak RSS since it started. Linux's `ru_maxrss` also counts the peak of the
    process it was forked from, before the exec (the benchmark's own, which holds moto after the
    SES row); the memory map's high-water mark (`VmHWM`) is this program's alone."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(argv: list[str]) -> None:
    environment.configure()
    from bench.product import RECIPIENTS, SENDER, FixedPassword, Server, service_for
    from core.composition.compose import compose
    from core.outbound import seal
    from core.send_request import parse_send_request
    from core.settings import get_settings
    from core.transport.base import Deadline, Envelope
    from core.transport.factory import Transports

    limit = get_settings().max_message_bytes
    service = service_for(Server(int(argv[0])))
    baseline = _peak_mb()
    # base64 in MIME: 4 bytes per 3, plus line breaks; leave room for the headers.
    content = os.urandom(int(limit * 0.725))
    body = {
        "to": [{"email": r} for r in RECIPIENTS],
        "subject": "largest",
        "body_text": "See the attachment.",
        "attachments": [{"name": "big.bin", "content": base64.b64encode(content).decode()}],
    }
    del content
    request = parse_send_request(body)
    del body
    message = compose(request, service, now=datetime.now(UTC), size_limit=limit)
    sealed = seal(message, max_bytes=limit)
    transports = Transports(FixedPassword(), ehlo_name="bench.localhost", ca_file="")
    with transports(service) as transport:
        transport.send(sealed.raw, Envelope(SENDER, RECIPIENTS), Deadline.after(60))
    print(
        json.dumps(
            {"peak_mb": _peak_mb(), "baseline_mb": baseline, "message_bytes": len(sealed.raw)}
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
