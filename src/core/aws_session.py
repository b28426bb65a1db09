"""boto3's default session, made safe to build clients from on several threads.

A boto3 client is thread-safe; the session that makes it is not (botocore sets parts of it up
lazily, on a client's first creation, and two threads doing so at once can fail or half-build
a client). The worker sends a batch on several threads at once (`core.delivery.courier`), each
of which may be the first to need a client; so every client and resource the process makes
comes out of the session under this lock, one at a time. Creation is rare (once per client a
container), so the lock costs nothing at send time.
"""

from __future__ import annotations

import threading

CREATING_CLIENTS = threading.RLock()
