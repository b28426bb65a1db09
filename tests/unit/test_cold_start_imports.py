"""A cold start loads what a send needs, not everything the API can do (issue 11, the cold path).

`import handlers.api` runs in a fresh interpreter, as a Lambda container's init does. What a
send never uses is loaded by the request that does (`core.runtime`'s factories, `/swagger`),
so a later import at the top of a module cannot quietly put it back on every cold start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

# Module -> what needs it instead.
NOT_ON_A_COLD_START = {
    "aws_lambda_powertools.event_handler.openapi.models": "the OpenAPI document (/swagger)",
    "aws_lambda_powertools.event_handler.openapi.swagger_ui": "Swagger UI (/swagger)",
    "pydantic_settings": "nothing: core.settings reads os.environ itself (not a dependency)",
    "aws_lambda_powertools.utilities.idempotency": "a send with an Idempotency-Key",
    "core.delivery.courier": "the worker",
    "core.attachments.fetch": "a send with attachments by URL",
    "dkim": "a service that signs with DKIM (its key read, or a message signed)",
    "aws_xray_sdk": "tracing, on in Lambda alone (XRayTracing): the probe runs outside it",
}

_PROBE = textwrap.dedent(
    """
    import json, sys

    import handlers.api
    from handlers.documentation import DocumentOnly

    def described(model):
        for sub in model.__subclasses__():
            yield sub
            yield from described(sub)

    built = [
        model.__name__
        for model in described(DocumentOnly)
        # An unparametrized generic (Batch) is never the document's own.
        if model.__pydantic_complete__ and not model.__pydantic_generic_metadata__["parameters"]
    ]
    print(json.dumps({"modules": sorted(sys.modules), "built": built}))
    """
)


@pytest.fixture(scope="module")
def cold_start() -> dict[str, Any]:
    """What a fresh interpreter holds once it imported the API handler."""
    done = subprocess.run(  # noqa: S603  # this interpreter, our own module
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        check=True,
        cwd=SRC,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        timeout=60,
    )
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def test_the_api_handler_imports_nothing_a_send_does_not_need(cold_start: dict[str, Any]) -> None:
    loaded = set(cold_start["modules"])

    assert {name: why for name, why in NOT_ON_A_COLD_START.items() if name in loaded} == {}


def test_models_only_the_document_reads_are_not_built_on_import(
    cold_start: dict[str, Any],
) -> None:
    assert cold_start["built"] == []
