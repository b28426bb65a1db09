"""moto in server mode: DynamoDB, Secrets Manager, SQS and S3 over HTTP on loopback, in this
process, with what it is told kept in a state directory (`local_stack.state_store`)."""

from __future__ import annotations

import logging
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from local_stack.config import HOST
from local_stack.moto_journal import JournalingApp
from local_stack.state_store import Restored, StateStore


class MotoServer:
    """A running moto server; `endpoint_url` is what boto3 gets pointed at.

    moto's own `ThreadedMotoServer`, but with its app behind the journal, and its state
    restored before the first request."""

    def __init__(self, port: int, state: StateStore) -> None:
        # werkzeug logs every request at INFO on a handler of its own unless told otherwise.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        app = DomainDispatcherApplication(create_backend_app)
        self.restored: Restored = state.restore(app)
        journal = state.journal
        if journal is None:
            raise RuntimeError("The state store has no journal after restoring.")
        self._server = make_server(
            HOST,
            port,
            JournalingApp(app, journal),
            threaded=True,
            request_handler=MotoRequestHandler,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="moto-server", daemon=True
        )
        self._thread.start()
        self.endpoint_url = f"http://{HOST}:{self._server.server_port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()
