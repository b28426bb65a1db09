"""A local HTTP front door: API Gateway for the API function, Lambda's Invoke API for all of them.

Every request on any other path is played as the deployed REST API plays it: a request that
matches none of the template's routes gets API Gateway's own 404; the others go to the API's
Lambda authorizer, and, if it allows them, become a REST proxy event for the function behind
the routes, with the authorizer's context in it. `POST /2015-03-31/functions/<name>/
invocations` is Lambda's Invoke API, as `sam local start-lambda` serves it: boto3's lambda
client with `endpoint_url` pointed here invokes a function by its logical id.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import threading
import traceback
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from local_stack.apigateway import (
    UNAUTHORIZED,
    ProxyAnswer,
    gateway_response,
    match_route,
    rest_api_event,
    through_authorizer,
)
from local_stack.config import HOST
from local_stack.functions import LocalApi, LocalFunction

INVOKE_PATH = re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/invocations")

# Hop-by-hop or recomputed here: never copied from a handler's answer.
_OWN_HEADERS = frozenset({"content-length", "connection", "transfer-encoding"})


class Gateway:
    """The HTTP server, on its own thread, running the functions one invocation at a time."""

    def __init__(self, port: int, functions: Mapping[str, LocalFunction], api: LocalApi) -> None:
        self.api = api
        self.api_function = functions[api.function]
        self.authorizer = functions[api.authorizer] if api.authorizer else None
        self.functions = dict(functions)
        # A Lambda container runs one invocation at a time, and the handlers rely on it:
        # Powertools' resolver and logger keep the current event in module-level state.
        self._one_at_a_time = threading.Lock()
        self._server = _Server((HOST, port), _Request)
        self._server.gateway = self
        # A short poll keeps `stop()` quick; the default half second is felt at every Ctrl-C.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="gateway", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def run_api(self, event: dict[str, Any]) -> ProxyAnswer:
        """The answer to one API Gateway event: the authorizer's refusal, or the API function's."""
        if self.authorizer is None:
            return self._run_api_function(event)
        return through_authorizer(
            event, self._run_authorizer, self._run_api_function, self.api.gateway_responses
        )

    def _run_authorizer(self, event: dict[str, Any]) -> Any:
        assert self.authorizer is not None
        try:
            with self._one_at_a_time:
                return self.authorizer.invoke(event)
        except Exception as error:
            if str(error) != UNAUTHORIZED:  # a refused key is no failure
                traceback.print_exc()
            raise

    def _run_api_function(self, event: dict[str, Any]) -> ProxyAnswer:
        # Its own turn: two requests may interleave between authorizer and function, as in AWS.
        with self._one_at_a_time:
            answer: ProxyAnswer = self.api_function.invoke(event)
        return answer

    def run_invoke(self, function: LocalFunction, event: Any) -> tuple[Any, bool]:
        """(payload, whether the function raised): what Lambda's Invoke API reports."""
        with self._one_at_a_time:
            try:
                return function.invoke(event), False
            except Exception as error:
                traceback.print_exc()
                return {
                    "errorMessage": str(error),
                    "errorType": type(error).__name__,
                    "stackTrace": traceback.format_tb(error.__traceback__),
                }, True


class _Server(ThreadingHTTPServer):
    gateway: Gateway


class _Request(BaseHTTPRequestHandler):
    server: _Server
    server_version = "local-email-api"

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        invoke = INVOKE_PATH.fullmatch(url.path)
        if invoke is None:
            self._api(unquote(url.path), url.query)
        elif self.command == "POST":
            self._invoke(unquote(invoke["name"]))
        else:
            self._reply_json(405, {"message": "Use POST to invoke a function."})

    # --- API Gateway ----------------------------------------------------------------------

    def _api(self, path: str, query: str) -> None:
        body = self._read_body()
        if body is None:
            return
        gateway = self.server.gateway
        route = match_route(gateway.api.routes, self.command, path)
        if route is None:
            # Unknown route or method: API Gateway answers by itself, calling nothing.
            answer = gateway_response(gateway.api.gateway_responses, "MISSING_AUTHENTICATION_TOKEN")
            self._reply_answer(answer)
            return
        try:
            text, encoded = body.decode(), False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
        event = rest_api_event(
            self.command,
            path,
            headers=dict(self.headers.items()),
            query=query,
            body=text or None,
            route=route,
        )
        event["isBase64Encoded"] = encoded
        try:
            answer = gateway.run_api(event)
        except Exception:
            # What API Gateway answers when the integration fails.
            traceback.print_exc()
            self._reply_json(502, {"message": "Internal server error"})
            return
        self._reply_answer(answer)

    def _reply_answer(self, answer: ProxyAnswer) -> None:
        payload = answer.get("body") or ""
        content = base64.b64decode(payload) if answer.get("isBase64Encoded") else payload.encode()
        self._reply(int(answer.get("statusCode", 200)), _answer_headers(answer), content)

    # --- Lambda's Invoke API --------------------------------------------------------------

    def _invoke(self, function_name: str) -> None:
        body = self._read_body()
        if body is None:
            return
        function = self.server.gateway.functions.get(function_name)
        if function is None:
            known = ", ".join(sorted(self.server.gateway.functions))
            self._reply_error(
                404,
                "ResourceNotFoundException",
                f"Function not found: {function_name} (the template's functions: {known})",
            )
            return
        try:
            event = json.loads(body) if body.strip() else {}
        except ValueError as error:
            self._reply_error(
                400,
                "InvalidRequestContentException",
                f"Could not parse request body into json: {error}",
            )
            return
        invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type == "DryRun":
            self._reply(204, [], b"")
            return
        # An `Event` invocation runs before the answer too: locally, waiting costs nothing.
        payload, failed = self.server.gateway.run_invoke(function, event)
        headers = [("X-Amz-Executed-Version", "$LATEST")]
        if failed:
            headers.append(("X-Amz-Function-Error", "Unhandled"))
        if invocation_type == "Event":
            self._reply(202, headers, b"")
        else:
            self._reply_json(200, payload, headers)

    # --- plumbing -------------------------------------------------------------------------

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering 411 for a body without a length."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._reply_json(
                411, {"message": "Send a Content-Length: chunked bodies are not read."}
            )
            return None
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply_error(self, status: int, error_type: str, message: str) -> None:
        """An error of Lambda's own API: boto3 raises the exception `error_type` names."""
        body = {"Type": "User", "message": message}
        self._reply_json(status, body, [("x-amzn-ErrorType", error_type)])

    def _reply_json(self, status: int, body: Any, headers: Iterable[tuple[str, str]] = ()) -> None:
        content = json.dumps(body).encode()
        self._reply(status, [("Content-Type", "application/json"), *headers], content)

    def _reply(self, status: int, headers: Iterable[tuple[str, str]], content: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in _OWN_HEADERS:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"gateway: {format % args}\n")


def _answer_headers(answer: dict[str, Any]) -> list[tuple[str, str]]:
    """A proxy answer's headers; `multiValueHeaders` win over `headers`, as in API Gateway."""
    single: dict[str, Any] = answer.get("headers") or {}
    multi: dict[str, list[Any]] = answer.get("multiValueHeaders") or {}
    pairs = [(name, str(value)) for name, value in single.items() if name not in multi]
    pairs += [(name, str(value)) for name, values in multi.items() for value in values]
    return pairs
