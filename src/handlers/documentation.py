"""The API describing itself: the OpenAPI document's metadata, and Swagger UI at `/swagger`.

Swagger UI's script and stylesheet are served by this function from the copies Powertools ships
(`aws-lambda-powertools`, pinned in src/requirements.txt, so `sam build` packages them): a
browser with no internet still gets the whole UI, and caches the files instead of taking 1.7 MB
inlined into every page. The page and its assets are the only routes that need no API key.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import aws_lambda_powertools.event_handler.openapi.swagger_ui as swagger_ui
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, Tag

from core.errors import NotFound

SWAGGER_PATH = "/swagger"
ASSET_ROUTE = "/swagger/{asset}"
# Relative, so the page finds its assets under any stage or base path (`/v1/swagger/...`).
ASSETS_URL = "swagger"
# Named as Powertools' page asks for them (`<base url>/swagger-ui-bundle.min.js`).
ASSETS = {
    "swagger-ui-bundle.min.js": "application/javascript; charset=utf-8",
    "swagger-ui.min.css": "text/css; charset=utf-8",
}
# The files change only with the pinned Powertools version, i.e. with a deployment.
ASSET_CACHE_SECONDS = 24 * 3600

# (method, resource) of every route that answers without an API key.
PUBLIC_ROUTES = frozenset({("GET", SWAGGER_PATH), ("GET", ASSET_ROUTE)})

TITLE = "DreamFactory-compatible email API"
VERSION = "1.0.0"
DESCRIPTION = """\
Send mail exactly as DreamFactory's email service takes it (`POST /api/v2/{service}`), follow
up on a message, and administer services, roles and API keys (admin keys only).

Every call needs an API key: in `X-DreamFactory-API-Key`, in `X-API-Key`, or as DreamFactory's
`?api_key=` query parameter (any one of them). Errors come in DreamFactory's envelope,
`{"error": {"code", "message", "reason", "context"}}`; `reason` is stable to branch on.
"""

TAGS = [
    Tag(name="send", description="Send mail, now or queued, at most once per Idempotency-Key."),
    Tag(name="messages", description="What became of a message; cancel a scheduled one."),
    Tag(name="services", description="SMTP services (admin keys only)."),
    Tag(name="roles", description="What each API key may do (admin keys only)."),
    Tag(name="api keys", description="API keys (admin keys only); shown once, when made."),
]

# Where DreamFactory's clients put the key; any one of the three will do.
SECURITY_SCHEMES = {
    "DreamFactoryApiKey": APIKey(name="X-DreamFactory-API-Key", in_=APIKeyIn.header),
    "ApiKeyHeader": APIKey(name="X-API-Key", in_=APIKeyIn.header),
    "ApiKeyQuery": APIKey(name="api_key", in_=APIKeyIn.query),
}
SECURITY: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]


def describe(app: APIGatewayRestResolver) -> None:
    """Give `app` its OpenAPI document and serve it, with Swagger UI, at `/swagger`."""
    app.configure_openapi(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        tags=list(TAGS),
        security_schemes=dict(SECURITY_SCHEMES),
        security=SECURITY,
    )
    app.enable_swagger(path=SWAGGER_PATH, swagger_base_url=ASSETS_URL)
    app.include_router(assets)


assets = Router()


@assets.get("/swagger/<asset>", include_in_schema=False)
def swagger_asset(asset: str) -> Response[str]:
    content_type = ASSETS.get(asset)
    if content_type is None:
        raise NotFound("No such resource.", reason="route_not_found")
    return Response(
        status_code=200,
        content_type=content_type,
        body=_asset_text(asset),
        headers={"Cache-Control": f"public, max-age={ASSET_CACHE_SECONDS}"},
    )


@cache
def _asset_text(name: str) -> str:
    return (Path(swagger_ui.__file__).parent / name).read_text(encoding="utf-8")
