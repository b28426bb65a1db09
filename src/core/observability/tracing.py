"""X-Ray tracing (Powertools' Tracer), where it is on: in Lambda, unless
POWERTOOLS_TRACE_DISABLED says otherwise (template.yaml's `XRayTracing`).

It patches botocore alone, so every AWS call (DynamoDB, Secrets Manager, SQS, S3, SES) is a
subsegment of its own; the SMTP handover is one too (`Deliverer.deliver`). A subsegment keeps
neither what a traced function returns nor its error: both can name recipients, and a trace
is no place for an address.

Elsewhere (the local stack, the tests, a function with tracing off) nothing is wrapped and
X-Ray's SDK is never imported: its import alone is a good share of a cold start.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

Traced = TypeVar("Traced", bound=Callable[..., Any])


def traced(method: Traced) -> Traced:
    """`method` as a subsegment of the invocation's trace (as it is, with tracing off)."""
    tracer = _tracer()
    if tracer is None:
        return method
    return tracer.capture_method(capture_response=False, capture_error=False)(method)


def traced_handler(handler: Traced) -> Traced:
    """A Lambda handler as the invocation's segment (as it is, with tracing off)."""
    tracer = _tracer()
    if tracer is None:
        return handler
    wrapped = tracer.capture_lambda_handler(handler, capture_response=False, capture_error=False)
    return cast(Traced, wrapped)


@cache
def _tracer() -> Tracer | None:
    if not _tracing_on():
        return None
    from aws_lambda_powertools import Tracer

    return Tracer(patch_modules=["botocore"])


def _tracing_on() -> bool:
    """As Powertools decides, before importing anything: in Lambda (not `sam local`), and not
    switched off."""
    in_lambda = bool(os.environ.get("LAMBDA_TASK_ROOT")) and not os.environ.get("AWS_SAM_LOCAL")
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").lower() in ("1", "true")
    return in_lambda and not disabled
