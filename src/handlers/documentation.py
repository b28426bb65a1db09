"""The API describing itself: the OpenAPI document, and Swagger UI at `/swagger`.

Swagger UI's script and stylesheet are served by this function from the copies Powertools ships
(`aws-lambda-powertools`, pinned in src/requirements.txt, so `sam build` packages them): a
browser with no internet still gets the whole UI, and caches the files instead of taking 1.7 MB
inlined into every page. The page and its assets are the only routes that need no API key.

Nothing here is built on a cold start: Powertools' OpenAPI models and Swagger UI (about 60 ms
of imports) load with the first request for the documentation, which a container busy sending
mail never gets. So the page is served here, as Powertools' `enable_swagger` would serve it,
rather than by `enable_swagger`, which imports them when the route is registered.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel, ConfigDict

from core.errors import NotFound

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import SecurityScheme, Tag

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

# Whether the API is up: answered to anyone (`handlers.routes.health`).
HEALTH_PATH = "/api/v2/health"
# (method, resource) of every route that answers without an API key.
PUBLIC_ROUTES = frozenset({("GET", SWAGGER_PATH), ("GET", ASSET_ROUTE), ("GET", HEALTH_PATH)})

TITLE = "DreamFactory-compatible email API"
VERSION = "1.0.0"
DESCRIPTION = """\
Send mail exactly as DreamFactory's email service takes it (`POST /api/v2/{service}`), follow
up on a message, and administer services, roles and API keys (admin keys only).

Every call needs an API key: in `X-DreamFactory-API-Key`, in `X-API-Key`, or as DreamFactory's
`?api_key=` query parameter (any one of them). Errors come in DreamFactory's envelope,
`{"error": {"code", "message", "reason", "context"}}`; `reason` is stable to branch on.

DreamFactory's verb tunnelling works as there: a `POST` whose `X-HTTP-Method`,
`X-HTTP-Method-Override` or `X-Method-Override` header (or `?method=`, `?_method=`) names `GET`,
`PUT`, `PATCH`, `DELETE` or `MERGE` (a PATCH) is that request, on the same path, its key checked
as that verb's (in a header or the query, not the body); any other verb named is a 400.
"""

# Tag -> its description, in the order the document lists them.
TAGS = {
    "send": "Send mail, now or queued, at most once per Idempotency-Key.",
    "messages": "What became of a message; cancel a scheduled one.",
    "services": "SMTP services (admin keys only).",
    "roles": "What each API key may do (admin keys only).",
    "api keys": "API keys (admin keys only); shown once, when made.",
    "stats": "Daily numbers per service, and the SES bounce and complaint thresholds.",
    "health": "Whether the API is up (no key).",
}

# Where DreamFactory's clients put the key; any one of the three will do:
# security scheme -> (the header or query parameter, where it goes).
API_KEY_SCHEMES = {
    "DreamFactoryApiKey": ("X-DreamFactory-API-Key", "header"),
    "ApiKeyHeader": ("X-API-Key", "header"),
    "ApiKeyQuery": ("api_key", "query"),
}
SECURITY: list[dict[str, list[str]]] = [{name: []} for name in API_KEY_SCHEMES]


def is_public_path(path: str) -> bool:
    """Whether a request to `path` needs no key: the documentation's routes and the health
    check, and any other method on their paths (API Gateway skips the authorizer for those
    too; their 405 says no more than the document does)."""
    return path in (SWAGGER_PATH, HEALTH_PATH) or path.startswith(f"{SWAGGER_PATH}/")


class DocumentOnly(BaseModel):
    """A model only the OpenAPI document reads (a body the route checks by other means, an
    answer written as a dict): built when the document is made, not at import, where every
    cold start would pay for it."""

    model_config = ConfigDict(defer_build=True)


def describe(app: APIGatewayRestResolver) -> None:
    """Serve `app`'s OpenAPI document, with Swagger UI, at `/swagger`."""

    @app.get(SWAGGER_PATH, include_in_schema=False)
    def swagger() -> Response[str]:
        return swagger_page(app)

    app.include_router(assets)


def openapi_json(app: APIGatewayRestResolver, *, base_path: str = "") -> str:
    """`app`'s OpenAPI document as JSON, its server at `base_path` (the stage, if any)."""
    from aws_lambda_powertools.event_handler.openapi.compat import model_json
    from aws_lambda_powertools.event_handler.openapi.models import Server

    document = app.get_openapi_schema(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        tags=_tags(),
        servers=[Server(url=base_path or "/")],
        security_schemes=_security_schemes(),
        security=SECURITY,
    )
    # The health check takes no key: its operation says so (OpenAPI's empty `security`),
    # overriding the document's.
    health = (document.paths or {}).get(HEALTH_PATH)
    if health is not None and health.get is not None:
        health.get.security = []
    text: str = model_json(document, by_alias=True, exclude_none=True, indent=2)
    return text


def swagger_page(app: APIGatewayRestResolver) -> Response[str]:
    """Swagger UI over the document, or (`?format=json`) the document alone."""
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

    # Escaped as Powertools escapes it: no `</script>` in the document can end the page's.
    document = openapi_json(app, base_path=_stage_path(app)).replace("</", "<\\/")
    query = app.current_event.query_string_parameters or {}
    if query.get("format") == "json":
        return Response(status_code=200, content_type="application/json", body=document)
    page = generate_swagger_html(
        document,
        f"{ASSETS_URL}/swagger-ui-bundle.min.js",
        f"{ASSETS_URL}/swagger-ui.min.css",
        ASSETS_URL,
        None,  # no OAuth2: the API takes keys
    )
    return Response(status_code=200, content_type="text/html", body=page)


def _stage_path(app: APIGatewayRestResolver) -> str:
    """`/<stage>` when the request's path starts with its stage (API Gateway's own URL);
    nothing behind a custom domain, or from `sam local`."""
    context = app.current_event.request_context
    stage = context.stage
    if stage and stage != "$default" and context.path.startswith(f"/{stage}"):
        return f"/{stage}"
    return ""


def _tags() -> list[Tag | str]:
    from aws_lambda_powertools.event_handler.openapi.models import Tag

    return [Tag(name=name, description=description) for name, description in TAGS.items()]


def _security_schemes() -> dict[str, SecurityScheme]:
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

    return {
        scheme: APIKey(name=name, in_=APIKeyIn(where))
        for scheme, (name, where) in API_KEY_SCHEMES.items()
    }


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
    import aws_lambda_powertools.event_handler.openapi.swagger_ui as swagger_ui

    return (Path(swagger_ui.__file__).parent / name).read_text(encoding="utf-8")
