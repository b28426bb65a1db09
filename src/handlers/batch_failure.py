"""How a batch that failed answers: its first failure, with DreamFactory's batch context.

df-core's `BatchException` (src/Exceptions/BatchException.php, lines 32-53) answers a failed
batch with `context: {"error": [the failed records' places], "resource": [each record's
outcome, or its error]}`; DreamFactory's admin interface shows `context.resource[i].message`.
Here the status, `reason` and message stay the first failure's own (what one record would have
answered), its own context is kept beside DreamFactory's two keys, and a record never tried, or
checked but not written because another was refused first, is `null`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from core.errors import EmailApiError
from handlers.responses import error_body

Outcome = dict[str, Any] | EmailApiError | None


def failed_batch(outcomes: Sequence[Outcome]) -> EmailApiError:
    """The first failure among `outcomes` (there is one), with the batch's context."""
    failed = [index for index, outcome in enumerate(outcomes) if isinstance(outcome, EmailApiError)]
    first = outcomes[failed[0]]
    assert isinstance(first, EmailApiError)
    # A copy keeps the first failure's class, so its status and headers, whatever they are.
    failure = copy.copy(first)
    failure.context = {
        **first.context,
        "error": failed,
        "resource": [
            error_body(outcome)["error"] if isinstance(outcome, EmailApiError) else outcome
            for outcome in outcomes
        ],
    }
    return failure
