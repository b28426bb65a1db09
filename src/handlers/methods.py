"""405 for a method a path does not have, naming those it has (RFC 9110's `Allow`).

Powertools' resolver knows only "no route for this method and path"; the methods a path does
have are read from the same routes it matched against, so they cannot disagree.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from core.errors import EmailApiError


class MethodNotAllowed(EmailApiError):
    """405: the path exists, the method does not; `allowed` goes into `Allow`."""

    status = 405
    default_reason = "method_not_allowed"

    def __init__(self, method: str, allowed: list[str]) -> None:
        super().__init__(
            f"{method} is not a method of this resource; it takes {', '.join(allowed)}.",
            context={"allowed": allowed},
        )
        self.allowed = allowed


def allowed_methods(app: APIGatewayRestResolver, path: str) -> list[str]:
    """The methods `app` has a route for at `path`, sorted; empty for a path it does not know."""
    routes = [*app._static_routes, *app._dynamic_routes]
    return sorted({route.method for route in routes if route.rule.match(path)})
