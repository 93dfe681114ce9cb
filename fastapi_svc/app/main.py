"""The application factory: settings, database, Redis, routes, errors, middleware, docs."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.config import Settings, get_settings
from app.db import create_engine, create_sessionmaker
from app.errors import register_error_handlers
from app.metrics import instrument_metrics
from app.middleware import (
    BodyLimitMiddleware,
    HeadMiddleware,
    RequestContextMiddleware,
    configure_logging,
)
from app.routes import auth, health, users
from app.schemas import (
    Problem,
    TokenForm,
    TokenRequest,
    ValidationProblem,
)
from app.telemetry import configure_tracing, instrument_tracing

TITLE = "User API"
VERSION = "1.0.0"
DOCS_ASSETS_URL = "/static/swagger-ui"
OPENAPI_URL = "/openapi.json"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
REDIS_TIMEOUT_SECONDS = 2


def create_redis(settings: Settings) -> Redis | None:
    if not settings.redis_url:
        return None
    # Short timeouts and one retry: Redis down must give 503 within 5 seconds.
    return Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )


API_ROUTERS = (health.router, auth.router, users.router, users.admin_router)


def api_routes(_app: FastAPI) -> list[APIRoute]:
    return [
        route for router in API_ROUTERS for route in router.routes if isinstance(route, APIRoute)
    ]


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's own schema, trimmed to the contract's status codes per operation
    (FastAPI adds a 422 to every operation with parameters)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=TITLE,
        version=VERSION,
        openapi_version="3.1.0",
        summary="Registration, OAuth2 password login with JWT access and refresh tokens, "
        "self-service profile and admin user management.",
        routes=app.routes,
    )
    for route in api_routes(app):
        if not route.include_in_schema:
            continue
        declared = {str(code) for code in route.responses} | {str(route.status_code or 200)}
        for method in route.methods or ():
            operation = schema["paths"][route.path_format][method.lower()]
            for code in list(operation["responses"]):
                if code not in declared:
                    del operation["responses"][code]
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (Problem, ValidationProblem, TokenForm, TokenRequest):
        model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(model_schema.pop("$defs", {}))
        components[model.__name__] = model_schema
    # FastAPI's own 422 models are no longer referenced once its 422s are replaced.
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    app.openapi_schema = schema
    return schema


def add_docs(app: FastAPI) -> None:
    """Swagger UI 5 from the assets shipped in the fastapi-offline wheel: no CDN."""
    assets = files("fastapi_offline") / "static"
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=str(assets)), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title=f"{TITLE} - Swagger UI",
            oauth2_redirect_url=OAUTH2_REDIRECT_URL,
            swagger_js_url=f"{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS_URL}/favicon.png",
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging()
    settings.warn_if_insecure()
    engine = create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout,
    )
    redis = create_redis(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()
        if redis is not None:
            await redis.aclose()

    app = FastAPI(
        title=TITLE,
        version=VERSION,
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,  # paths are exact: no redirect for a trailing slash
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.redis = redis

    for router in API_ROUTERS:
        app.include_router(router)
    # For the Allow header of a 405: every method of every route matching the path.
    app.state.route_methods = [(route.path_regex, route.methods) for route in api_routes(app)]
    add_docs(app)
    register_error_handlers(app)

    def openapi() -> dict[str, Any]:
        return build_openapi(app)

    app.openapi = openapi  # type: ignore[method-assign]

    # Added innermost first: the request context wraps everything else.
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(HeadMiddleware)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=sorted(settings.cors_origins),
        allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        expose_headers=["X-Request-ID"],
        max_age=600,
    )
    instrument_metrics(app)
    app.add_middleware(RequestContextMiddleware)
    tracer_provider = configure_tracing()
    if tracer_provider is not None:
        instrument_tracing(app, tracer_provider)
    return app


app = create_app()
