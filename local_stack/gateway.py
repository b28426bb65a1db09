"""Two local HTTP front doors: API Gateway for the API function, Lambda's Invoke API for all.

The API port plays the deployed REST API: a request that matches none of the template's routes
gets API Gateway's own 404; the others go to the API's Lambda authorizer, and, if it allows them,
become a REST proxy event for the function behind the routes, with the authorizer's context in
it. Routes the template declares with `Authorizer: NONE` (the API's documentation, /swagger) go
to the function directly, as in API Gateway.

The invoke port serves `POST /2015-03-31/functions/<name>/invocations`, Lambda's Invoke API, as
`sam local start-lambda` does: boto3's lambda client with `endpoint_url` pointed here invokes a
function by its logical id. In AWS, IAM guards that API; here nothing can, so it sits on its own
port and answers only what is plainly a local program, never a web page the developer has open
(the rule moto's port shares, `local_stack.browser_guard`):

- `Host` must name loopback: a DNS-rebound name reaches 127.0.0.1 but still says its own name;
- a request carrying `Origin` or `Sec-Fetch-*` comes from a browser;
- the content types a page may POST without a CORS preflight (text/plain, forms, multipart) are
  refused; boto3 sends no Content-Type at all, other SDKs a JSON or octet-stream one;
- the API function behind it gets no `requestContext.authorizer` from a caller, since only
  the gateway's own authorizer may vouch for one: it checks the key itself instead.

The API port also serves the stack's own pages, under `/_local/`: the captured mail's viewer
(`/_local/mail`, `local_stack.mail_viewer`, with its own guard: it answers the developer's
browser, never another site's page) and the SES event replay below.

Both ports refuse a body over API Gateway's 10 MB from its Content-Length, before reading it,
and no log line shows the value of a query parameter named like a credential (DreamFactory's
clients send the key as `?api_key=`).

Requests are served side by side, each on a thread of its own, and so are invocations: every
function runs in a pool of container processes of its own (`local_stack.containers`), the
authorizer too, so a slow send holds up one container, not the gateway. Nothing else here is
shared between requests but the pools, which lock for themselves.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, unquote_plus, urlsplit

from local_stack.apigateway import (
    UNAUTHORIZED,
    ProxyAnswer,
    gateway_response,
    match_route,
    rest_api_event,
    route_taken,
    routes_without_authorizer,
    through_authorizer,
    without_authorizer_context,
)
from local_stack.browser_guard import browser_refusal
from local_stack.config import HOST
from local_stack.container_process import STOP_GRACE_SECONDS, FunctionError
from local_stack.containers import FunctionContainers
from local_stack.functions import LocalApi, LocalFunction
from local_stack.mail_viewer import MailViewer, is_viewer_path
from local_stack.mail_viewer.routes import ViewerRequest
from local_stack.template_tables import load_template

# The local stack's own path on the API port (no route of the template's): it replays an SES
# event, bare or wrapped in an SNS notification, through the SES events function, as SES's
# topic would deliver it. Loopback programs only, as the Invoke API: a web page could
# otherwise bounce (and suppress) any address.
SES_EVENTS_PATH = "/_local/ses-events"
SES_EVENTS_FUNCTION = "SesEventsFunction"
INVOKE_PATH = re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/invocations")

# API Gateway's payload quota; it answers a bigger request itself, with this body.
MAX_BODY_BYTES = 10 * 1024 * 1024
TOO_LONG = {"message": "Request Too Long"}

# Media types an invocation may be labelled with: none (boto3, the AWS CLI), JSON, or the
# generic blob label other SDKs use. None of them can leave a browser without a CORS preflight,
# which this port never grants; the payload must parse as JSON whatever the label.
INVOKE_CONTENT_TYPES = frozenset({"", "application/json", "application/octet-stream"})

# A query parameter whose name has one of these in it holds a credential: its value is no
# one's business in a log (`api_key`, `access_token`, `X-Amz-Signature`, `password`, ...).
_SECRET_NAME = re.compile(r"key|token|secret|password|signature", re.IGNORECASE)
_QUERY_PAIR = re.compile(r"(?P<name>(?<=[?&;])[^=&;#\s]+)=(?P<value>[^&;#\s]*)")
REDACTED = "***"

# Hop-by-hop or recomputed here: never copied from a handler's answer.
_OWN_HEADERS = frozenset({"content-length", "connection", "transfer-encoding"})

# Connections the kernel holds for each port until a thread accepts them. Python's default of
# 5 reset clients at the TCP level once a few dozen connected at once.
LISTEN_BACKLOG = 1024


class Gateway:
    """Both HTTP servers, each on its own thread, and each function's containers."""

    def __init__(
        self,
        api_port: int,
        invoke_port: int,
        functions: Mapping[str, LocalFunction],
        api: LocalApi,
        mail_dir: Path | None = None,
    ) -> None:
        self.api = api
        # The captured mail's web page (/_local/mail), when the stack captures mail.
        self.mail_viewer = MailViewer(mail_dir) if mail_dir is not None else None
        self.api_function = functions[api.function]
        self.authorizer = functions[api.authorizer] if api.authorizer else None
        self.open_routes = routes_without_authorizer(load_template())
        self.functions = dict(functions)
        # Started on first use, like Lambda's: nothing runs until a request needs it.
        self.containers = {
            name: FunctionContainers(function) for name, function in self.functions.items()
        }
        self._listeners: list[_Listener] = []
        try:
            self._listeners.append(_Listener(api_port, _ApiRequest, self, "gateway-api"))
            self._listeners.append(_Listener(invoke_port, _InvokeRequest, self, "gateway-invoke"))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Close both ports, then end every container, busy ones too, within a grace period."""
        for listener in self._listeners:
            listener.stop()
        for containers in self.containers.values():
            containers.stop()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for containers in self.containers.values():
            containers.join(max(0.0, deadline - time.monotonic()))

    def run_api(self, event: dict[str, Any]) -> ProxyAnswer:
        """The answer to one API Gateway event: the authorizer's refusal, or the API function's."""
        route = route_taken(self.api.routes, event["httpMethod"], event["resource"])
        if self.authorizer is None or route in self.open_routes:
            return self._run_api_function(event)
        return through_authorizer(
            event, self._run_authorizer, self._run_api_function, self.api.gateway_responses
        )

    def _run_authorizer(self, event: dict[str, Any]) -> Any:
        assert self.authorizer is not None
        try:
            return self.containers[self.authorizer.name].invoke(event)
        except FunctionError as error:
            if str(error) != UNAUTHORIZED:  # a refused key is no failure
                _log_failure(error)
            raise

    def _run_api_function(self, event: dict[str, Any]) -> ProxyAnswer:
        # A container of its own: other requests run between authorizer and function, as in AWS.
        answer: ProxyAnswer = self.containers[self.api_function.name].invoke(event)
        return answer

    def run_invoke(self, function: LocalFunction, event: Any) -> tuple[Any, bool]:
        """(payload, whether the function raised): what Lambda's Invoke API reports."""
        try:
            return self.containers[function.name].invoke(event), False
        except FunctionError as error:
            _log_failure(error)
            return error.payload, True

    def invoke_for_caller(self, function: LocalFunction, event: Any) -> tuple[Any, bool]:
        """`run_invoke` for a caller of the Invoke API, who cannot speak for the authorizer."""
        if function.name == self.api.function:
            event = without_authorizer_context(event)
        return self.run_invoke(function, event)


# --- what the invoke port and the log accept: pure, so unit tests can pin them down -----------


def is_invoke_content_type(values: Sequence[str] | None) -> bool:
    """Whether a request's Content-Type (at most one; none is fine) labels an invocation."""
    if not values:
        return True
    media_type = values[0].partition(";")[0].strip().lower()
    return len(values) == 1 and media_type in INVOKE_CONTENT_TYPES


def declared_length(values: Sequence[str] | None) -> int:
    """The body length a request's Content-Length declares; 0 without one (with neither it nor
    Transfer-Encoding, an HTTP/1.1 request has no body). ValueError unless exactly one
    header holding digits only: a sign, a list or a second header could hide a smuggled body."""
    if not values:
        return 0
    if len(values) != 1 or not re.fullmatch(r"[0-9]+", values[0].strip()):
        raise ValueError(f"Content-Length {values!r} is not one number of bytes.")
    return int(values[0])


def redact_query_secrets(text: str) -> str:
    """`text` with the value of every query parameter named like a credential replaced."""

    def hide(pair: re.Match[str]) -> str:
        name = pair["name"]
        return f"{name}={REDACTED}" if _SECRET_NAME.search(unquote_plus(name)) else pair[0]

    return _QUERY_PAIR.sub(hide, text)


def _log_failure(error: FunctionError) -> None:
    """What a failed invocation leaves in the log: the container's traceback, as CloudWatch
    would have it."""
    if error.log:
        sys.stderr.write(error.log)


# --- the servers ------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    gateway: Gateway
    request_queue_size = LISTEN_BACKLOG
    # A request still waiting on a function never holds up a stop; its container is ended.
    daemon_threads = True


class _Listener:
    """One loopback server and the thread serving it."""

    def __init__(
        self, port: int, handler: type[_Request], gateway: Gateway, thread_name: str
    ) -> None:
        self._server = _Server((HOST, port), handler)
        self._server.gateway = gateway
        # A short poll keeps `stop()` quick; the default half second is felt at every Ctrl-C.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=thread_name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class _Request(BaseHTTPRequestHandler):
    """What both ports share: bounded bodies, answers, and a log without credentials."""

    server: _Server
    server_version = "local-email-api"
    log_name = "gateway"
    # Sent with the 413: lets a client tell which limit it hit.
    too_long_headers: tuple[tuple[str, str], ...] = ()

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, QUERY, ...) is dispatched too, for the route's 405, not
        # http.server's 501 (a 5xx for the client's mistake; schemathesis found it).
        if name.startswith("do_"):
            return self.do_GET
        raise AttributeError(name)

    def _dispatch(self) -> None:
        raise NotImplementedError

    def _read_body(self) -> bytes | None:
        """The request body, or None after refusing it unread (411, 400 or 413)."""
        if self.headers.get("Transfer-Encoding") is not None:
            self._refuse(411, {"message": "Send a Content-Length: chunked bodies are not read."})
            return None
        try:
            length = declared_length(self.headers.get_all("Content-Length"))
        except ValueError:
            self._refuse(400, {"message": "Content-Length must be one whole number of bytes."})
            return None
        if length > MAX_BODY_BYTES:
            # Judged on the header alone: reading first is what let 60 MB fill the memory.
            self._refuse(413, TOO_LONG, self.too_long_headers)
            return None
        return self.rfile.read(length) if length else b""

    def _refuse(self, status: int, body: Any, headers: Iterable[tuple[str, str]] = ()) -> None:
        """Answer before reading the body, then hang up: what is left unread on the socket
        must never be taken for the next request."""
        self.close_connection = True
        self._reply_json(status, body, headers)

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
        # Every line the server writes comes here (requests, and errors quoting a request line).
        sys.stderr.write(f"{self.log_name}: {redact_query_secrets(format % args)}\n")


class _ApiRequest(_Request):
    """The API port: API Gateway in front of the API function, and nothing else."""

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        if body is None:
            return
        gateway = self.server.gateway
        if unquote(url.path) == SES_EVENTS_PATH:
            self._replay_ses_event(body)
            return
        if gateway.mail_viewer is not None and is_viewer_path(unquote(url.path)):
            self._show_mail(gateway.mail_viewer, unquote(url.path), url.query)
            return
        # Still percent-encoded, as a REST API hands the function its `path` (an HTTP API
        # would decode it): a template named "User Invite Default" arrives as
        # `.../User%20Invite%20Default`, and the route decodes its parameter itself.
        path = url.path
        route = match_route(gateway.api.routes, self.command, path)
        if route is None:
            # Unknown route or method (the Invoke API's path among them): API Gateway answers
            # by itself, calling nothing.
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
            query=url.query,
            body=text or None,
            route=route,
        )
        event["isBase64Encoded"] = encoded
        try:
            answer = gateway.run_api(event)
        except FunctionError as error:
            # What API Gateway answers when the integration fails.
            _log_failure(error)
            self._reply_json(502, {"message": "Internal server error"})
            return
        except Exception:
            traceback.print_exc()
            self._reply_json(502, {"message": "Internal server error"})
            return
        self._reply_answer(answer)

    def _replay_ses_event(self, body: bytes) -> None:
        refusal = browser_refusal(self.headers.get_all("Host"), self.headers.keys())
        if refusal is not None:
            self._reply_json(403, {"message": f"{SES_EVENTS_PATH} {refusal}"})
            return
        if self.command != "POST":
            self._reply_json(405, {"message": f"POST an SES event to {SES_EVENTS_PATH}."})
            return
        try:
            event = json.loads(body)
        except ValueError:
            self._reply_json(400, {"message": "An SES event is JSON."})
            return
        function = self.server.gateway.functions[SES_EVENTS_FUNCTION]
        payload, failed = self.server.gateway.run_invoke(function, event)
        self._reply_json(502 if failed else 200, payload)

    def _show_mail(self, viewer: MailViewer, path: str, query: str) -> None:
        answer = viewer.answer(
            ViewerRequest(
                method=self.command,
                path=path,
                query=query,
                headers={name.lower(): value for name, value in self.headers.items()},
                hosts=self.headers.get_all("Host"),
            )
        )
        self._reply(answer.status, answer.headers, answer.body)

    def _reply_answer(self, answer: ProxyAnswer) -> None:
        payload = answer.get("body") or ""
        content = base64.b64decode(payload) if answer.get("isBase64Encoded") else payload.encode()
        self._reply(int(answer.get("statusCode", 200)), _answer_headers(answer), content)


class _InvokeRequest(_Request):
    """The invoke port: Lambda's Invoke API, for local programs only."""

    log_name = "invoke"
    too_long_headers = (("x-amzn-ErrorType", "RequestEntityTooLargeException"),)

    def _dispatch(self) -> None:
        # Who is asking comes first: a browser or a rebound name learns nothing else here.
        refusal = browser_refusal(self.headers.get_all("Host"), self.headers.keys())
        if refusal is not None:
            self._refuse_error(403, "AccessDeniedException", f"The Invoke API {refusal}")
            return
        invoke = INVOKE_PATH.fullmatch(urlsplit(self.path).path)
        if invoke is None:
            self._refuse_error(
                404,
                "ResourceNotFoundException",
                "Only POST /2015-03-31/functions/<name>/invocations is served on this port.",
            )
            return
        if self.command != "POST":
            self._refuse(405, {"message": "Use POST to invoke a function."})
            return
        if not is_invoke_content_type(self.headers.get_all("Content-Type")):
            self._refuse_error(
                415,
                "UnsupportedMediaTypeException",
                "Send the payload as JSON: application/json, or no Content-Type.",
            )
            return
        self._invoke(unquote(invoke["name"]))

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
        payload, failed = self.server.gateway.invoke_for_caller(function, event)
        headers = [("X-Amz-Executed-Version", "$LATEST")]
        if failed:
            headers.append(("X-Amz-Function-Error", "Unhandled"))
        if invocation_type == "Event":
            self._reply(202, headers, b"")
        else:
            self._reply_json(200, payload, headers)

    def _reply_error(self, status: int, error_type: str, message: str) -> None:
        """An error of Lambda's own API: boto3 raises the exception `error_type` names."""
        self._reply_json(status, _lambda_error(message), [("x-amzn-ErrorType", error_type)])

    def _refuse_error(self, status: int, error_type: str, message: str) -> None:
        self._refuse(status, _lambda_error(message), [("x-amzn-ErrorType", error_type)])


def _lambda_error(message: str) -> dict[str, str]:
    return {"Type": "User", "message": message}


def _answer_headers(answer: dict[str, Any]) -> list[tuple[str, str]]:
    """A proxy answer's headers; `multiValueHeaders` win over `headers`, as in API Gateway."""
    single: dict[str, Any] = answer.get("headers") or {}
    multi: dict[str, list[Any]] = answer.get("multiValueHeaders") or {}
    pairs = [(name, str(value)) for name, value in single.items() if name not in multi]
    pairs += [(name, str(value)) for name, values in multi.items() for value in values]
    return pairs
