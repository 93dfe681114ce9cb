"""The application factory: settings, database, Redis, routes, errors, middleware, docs."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from app.config import Settings, get_settings
from app.db import create_engine, create_sessionmaker
from app.docs import OPENAPI_URL, TITLE, VERSION, add_docs, build_openapi
from app.errors import register_error_handlers
from app.hardening import RequestLimitsMiddleware
from app.metrics import instrument_metrics
from app.middleware import (
    HeadMiddleware,
    RequestContextMiddleware,
    configure_logging,
)
from app.redis_client import create_redis
from app.routes import auth, health, users
from app.telemetry import configure_tracing, instrument_tracing

API_ROUTERS = (health.router, auth.router, users.router, users.admin_router)


def api_routes(_app: FastAPI) -> list[APIRoute]:
    return [
        route for router in API_ROUTERS for route in router.routes if isinstance(route, APIRoute)
    ]


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
        return build_openapi(app, api_routes(app))

    app.openapi = openapi  # type: ignore[method-assign]

    # Added innermost first: the request context wraps everything else.
    app.add_middleware(RequestLimitsMiddleware)
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
