"""The OpenAPI document (FastAPI's own, trimmed to the contract) and Swagger UI, served
from the assets in the fastapi-offline wheel: no CDN."""

from collections.abc import Sequence
from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from app.schemas import Problem, TokenForm, TokenRequest, ValidationProblem

TITLE = "User API"
VERSION = "1.0.0"
DOCS_ASSETS_URL = "/static/swagger-ui"
OPENAPI_URL = "/openapi.json"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"


def build_openapi(app: FastAPI, api_routes: Sequence[APIRoute]) -> dict[str, Any]:
    """FastAPI's own schema, trimmed to the status codes each of the API's routes
    declares (FastAPI adds a 422 to every operation with parameters)."""
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
    for route in api_routes:
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
