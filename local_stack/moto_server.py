"""moto in server mode: DynamoDB and Secrets Manager over HTTP on loopback, in this process."""

from __future__ import annotations

import logging

from moto.server import ThreadedMotoServer

from local_stack.config import HOST


class MotoServer:
    """A running moto server; `endpoint_url` is what boto3 gets pointed at."""

    def __init__(self, port: int) -> None:
        # werkzeug logs every request at INFO on a handler of its own unless told otherwise.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
        self._server.start()
        host, bound_port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{bound_port}"

    def stop(self) -> None:
        self._server.stop()
