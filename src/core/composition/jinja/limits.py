"""What one message's templates may cost, and the running account of it.

Imports no template engine: `compose` builds these for every message, whatever its syntax.
One `Budget` covers every field of one message (subject, bodies, header values), so a template
cannot spread a cost over its fields to pass each limit alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core.errors import InvalidRequest
from core.outbound import too_large
from core.settings import DEFAULT_TEMPLATE_RENDER_SECONDS, Settings

# The text and values a template may build, all told (freed or not): the message itself is at
# most a few MB, and a guard that counts what was built needs no allocator hook.
DEFAULT_BUILT_BYTES = 32 * 1024 * 1024
# One value: more than a message can hold is of no use, and escaping it for HTML may take six
# times its size again.
MAX_VALUE_BYTES = 4 * 1024 * 1024
# Loop steps over every `{% for %}` of the message together.
DEFAULT_ITERATIONS = 1_000_000
# The largest number a call may pass (a width, a count): the sandbox's own cap on `range`.
MAX_ARGUMENT = 100_000
# The most items a filter may gather from one sequence (`|list`, `|sort`, `|join`...).
MAX_ITEMS = 100_000
# Integers a template computes (`**`, `*`): beyond this, arithmetic itself becomes slow.
MAX_INTEGER_BITS = 4096


class TemplateTooCostly(InvalidRequest):
    """400: a template would take more time or memory than a message may."""

    default_reason = "template_too_costly"


@dataclass(frozen=True)
class RenderLimits:
    """The limits every message's templates render within."""

    # A render of a few templates takes milliseconds; the default second is far past honest
    # use and well within a Lambda's time (TEMPLATE_RENDER_SECONDS).
    seconds: float = DEFAULT_TEMPLATE_RENDER_SECONDS
    built_bytes: int = DEFAULT_BUILT_BYTES
    iterations: int = DEFAULT_ITERATIONS

    @classmethod
    def from_settings(cls, settings: Settings) -> RenderLimits:
        return cls(seconds=settings.template_render_seconds)

    def budget(self, output_bytes: int, clock: Callable[[], float] = time.monotonic) -> Budget:
        """A fresh account for one message whose rendered text may be `output_bytes`."""
        return Budget(self, output_bytes, clock)


@dataclass
class Budget:
    """What one message's templates have spent so far; raises as soon as a limit is passed."""

    limits: RenderLimits
    output_limit: int
    clock: Callable[[], float] = time.monotonic
    built: int = 0
    output: int = 0
    steps: int = 0
    field_name: str = ""  # the field being rendered, for the answer
    _deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self._deadline = self.clock() + self.limits.seconds

    def check_time(self) -> None:
        if self.clock() > self._deadline:
            raise self.too_costly(f"took longer than {self.limits.seconds:g} s", "seconds")

    def remaining(self) -> int:
        return self.limits.built_bytes - self.built

    def allow(self, size: int, what: str = "a value") -> None:
        """Refuse, before it is made, `what` of `size` bytes that the budget cannot hold."""
        if size > MAX_VALUE_BYTES:
            raise self.too_costly(
                f"would build {what} of {size} bytes; one value may have at most {MAX_VALUE_BYTES}",
                "value_bytes",
            )
        if size > self.remaining():
            raise self.too_costly(
                f"would build {what} of {size} bytes, past what a message's templates may"
                f" build ({self.limits.built_bytes} bytes in all)",
                "built_bytes",
            )

    def spend(self, size: int) -> None:
        """Count `size` bytes built."""
        self.allow(size)
        self.built += size
        self.check_time()

    def step(self) -> None:
        """Count one loop step (the clock is read every 256 of them)."""
        self.steps += 1
        if self.steps > self.limits.iterations:
            raise self.too_costly(f"loops more than {self.limits.iterations} times", "iterations")
        if not self.steps & 0xFF:
            self.check_time()

    def emit(self, size: int) -> None:
        """Count `size` bytes of rendered text: 413 once the message could no longer fit."""
        self.output += size
        if self.output > self.output_limit:
            raise too_large(self.output, self.output_limit, at_least=True)

    def too_costly(self, why: str, limit: str) -> TemplateTooCostly:
        return TemplateTooCostly(
            f"The template in '{self.field_name}' {why}; simplify it or send less data.",
            context={"field": self.field_name, "limit": limit},
        )
