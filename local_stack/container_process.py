"""One Lambda container: a Python process of its own, running one function's handler, one event
at a time, with module state no other invocation shares.

The process is a new interpreter, `python -m local_stack.container_process <function>` (a fork
of the threaded gateway would inherit its locks mid-use). It starts with the environment the
stack has at that moment, as a Lambda container starts with its function's configuration, and
with the function's code directory (CodeUri) first on `sys.path`. It runs in a process group
of its own, so Ctrl-C in the terminal reaches the stack alone, which then ends its containers.
The two speak JSON over a socket pair, as Lambda's runtime API speaks JSON over HTTP:

    container -> stack   {"ready": true}                  once the handler is imported (init)
                         {"error": {...}, "log": "..."}   init failed; the container ends
    stack -> container   {"event": ..., "requestId": "...", "deadline": <time.monotonic()>}
    container -> stack   {"payload": ...} or {"error": {errorMessage, errorType, stackTrace},
                                                 "log": "<the traceback, for the stack's log>"}

The context is rebuilt in the container from the function's name, memory and timeout and the
invocation's deadline (monotonic clocks are system-wide, so both processes read the same one).
The container exits on SIGTERM through `SystemExit`, so coverage and other exit handlers still
run, and when its socket closes, so it never outlives the stack, however that ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType
from typing import Any

from local_stack.functions import Handler, LocalFunction

# Lambda allows 10 s for init; a loaded machine cold-starting several containers needs more.
INIT_TIMEOUT_SECONDS = 30.0
# Past the deadline, for a handler's last answer to cross the socket before it counts as late.
PIPE_GRACE_SECONDS = 0.2
# How long a container asked to stop has before it is killed.
STOP_GRACE_SECONDS = 2.0

# Where `local_stack` is imported from, for the container's interpreter.
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def lambda_error(error_type: str, message: str, stack_trace: Sequence[str] = ()) -> dict[str, Any]:
    """An error payload, as Lambda's Invoke API returns it for a failed invocation."""
    return {"errorMessage": message, "errorType": error_type, "stackTrace": list(stack_trace)}


class FunctionError(Exception):
    """An invocation that failed: Lambda's error payload, and what the stack should log."""

    def __init__(self, payload: dict[str, Any], log: str = "") -> None:
        super().__init__(str(payload.get("errorMessage", "")))
        self.payload = payload
        self.log = log


class ContainerLost(Exception):
    """The container died, or was killed for running past its timeout: it is of no further use."""

    def __init__(self, message: str, error_type: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class ProcessContainer:
    """The stack's end of one container process."""

    def __init__(
        self, function: LocalFunction, process: subprocess.Popen[bytes], pipe: Connection
    ) -> None:
        self.function = function
        self._process = process
        self._pipe = pipe
        # Killing and reaping come in pairs, never interleaved between two threads.
        self._ending = threading.Lock()

    @classmethod
    def start(cls, function: LocalFunction) -> ProcessContainer:
        """A new container with the handler imported: a cold start. `FunctionError` with the
        container's own error when the handler cannot be loaded."""
        ours, theirs = socket.socketpair()
        with theirs:
            # Only the container keeps its end: when it dies, reading ours says so (EOF).
            process = subprocess.Popen(  # noqa: S603  # this interpreter, our own module
                [sys.executable, "-m", __name__, function.name, str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.PIPE,
                env=_environment(),
                process_group=0,
            )
        assert process.stdin is not None
        # A container that died before reading it says so below, when it never gets ready.
        with contextlib.suppress(BrokenPipeError), process.stdin:
            process.stdin.write(json.dumps(_spec(function)).encode())
        container = cls(function, process, Connection(ours.detach()))
        try:
            answer = container._receive(time.monotonic() + INIT_TIMEOUT_SECONDS, "init")
        except ContainerLost:
            container.end()
            raise
        if "error" in answer:
            container.end()
            raise FunctionError(answer["error"], answer.get("log", ""))
        return container

    def invoke(self, event: Any, request_id: str, deadline: float) -> Any:
        """The handler's answer to `event`. `FunctionError` if it raised; `ContainerLost` if
        the container died, or ran past `deadline` (it is killed then, as Lambda does)."""
        request = {"event": event, "requestId": request_id, "deadline": deadline}
        try:
            self._pipe.send_bytes(json.dumps(request).encode())
        except (OSError, ValueError) as error:
            raise self._lost() from error
        answer = self._receive(deadline + PIPE_GRACE_SECONDS, "invoke")
        if "error" in answer:
            raise FunctionError(answer["error"], answer.get("log", ""))
        return answer["payload"]

    def stop(self, *, busy: bool) -> None:
        """Ask the container to end, without waiting. An idle one reads the end of its socket;
        a busy one (another thread waits on its socket) gets SIGTERM."""
        if busy:
            with self._ending:
                if self._process.poll() is None:
                    self._process.terminate()
        else:
            self._pipe.close()

    def join(self, timeout: float = STOP_GRACE_SECONDS) -> None:
        """Wait for the container to end; kill it if it has not after `timeout`."""
        with self._ending:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def end(self) -> None:
        """Stop and reap the container: it takes no further invocations."""
        self.stop(busy=False)
        self.join()

    def _receive(self, deadline: float, phase: str) -> dict[str, Any]:
        try:
            if self._pipe.poll(max(0.0, deadline - time.monotonic())):
                answer: dict[str, Any] = json.loads(self._pipe.recv_bytes())
                return answer
        except (EOFError, OSError, ValueError) as error:
            raise self._lost() from error
        with self._ending:
            self._process.kill()
            self._process.wait()
        limit = INIT_TIMEOUT_SECONDS if phase == "init" else self.function.timeout_seconds
        what = "Init" if phase == "init" else "Task"
        raise ContainerLost(f"{what} timed out after {limit:.2f} seconds", "Sandbox.Timedout")

    def _lost(self) -> ContainerLost:
        # The socket broke: the process is ending, if it has not already.
        with self._ending:
            try:
                code: int | None = self._process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                code = None
        if code is None:
            status = "still running after its socket broke"
        elif code < 0:
            status = f"signal: {signal.Signals(-code).name.removeprefix('SIG').lower()}"
        else:
            status = f"exit status {code}"
        return ContainerLost(f"Runtime exited with error: {status}", "Runtime.ExitError")


def _environment() -> dict[str, str]:
    """The stack's environment now, with `local_stack` importable whatever the working dir."""
    path = [str(_PACKAGE_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}


def _spec(function: LocalFunction) -> dict[str, Any]:
    return {**dataclasses.asdict(function), "code_dir": str(function.code_dir)}


# --- inside the container ---------------------------------------------------------------------


def main(argv: Sequence[str]) -> None:
    """`python -m local_stack.container_process <function name> <socket fd>`, the function's
    definition as JSON on stdin (the name is there for `ps`)."""
    _name, fd = argv
    fields = json.loads(sys.stdin.buffer.read())
    function = LocalFunction(**{**fields, "code_dir": Path(fields["code_dir"])})
    serve(Connection(int(fd)), function)


def serve(pipe: Connection, function: LocalFunction) -> None:
    """The container's life: init (import the handler), then one event at a time until the
    socket closes."""
    signal.signal(signal.SIGTERM, _exit_on_signal)
    for stream in (sys.stdout, sys.stderr):
        # Lines reach the stack's log as they are written, even if the container is killed.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True)
    code_dir = str(function.code_dir)
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    try:
        handler = function.load()
    except Exception as error:
        error_type = (
            "Runtime.ImportModuleError" if isinstance(error, ImportError) else "Runtime.Unknown"
        )
        message = f"Unable to import module '{function.handler}': {error}"
        _send(pipe, {"error": lambda_error(error_type, message), "log": traceback.format_exc()})
        return
    _send(pipe, {"ready": True})
    while True:
        try:
            request = json.loads(pipe.recv_bytes())
        except EOFError:
            return
        pipe.send_bytes(_answer(function, handler, request))


def _answer(function: LocalFunction, handler: Handler, request: dict[str, Any]) -> bytes:
    context = function.context(request_id=request["requestId"], deadline=request["deadline"])
    try:
        payload = handler(request["event"], context)
    except Exception as error:
        failure = lambda_error(
            type(error).__name__, str(error), traceback.format_tb(error.__traceback__)
        )
        return json.dumps({"error": failure, "log": traceback.format_exc()}).encode()
    try:
        return json.dumps({"payload": payload}).encode()
    except (TypeError, ValueError) as error:
        message = f"Unable to marshal response: {error}"
        return json.dumps({"error": lambda_error("Runtime.MarshalError", message)}).encode()


def _send(pipe: Connection, message: dict[str, Any]) -> None:
    pipe.send_bytes(json.dumps(message).encode())


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    main(sys.argv[1:])
