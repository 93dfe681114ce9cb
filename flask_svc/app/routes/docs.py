"""/openapi.json and /docs (Swagger UI 5 from flask-swagger-ui's packaged assets, no CDN)."""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Response, jsonify, render_template, send_from_directory
from werkzeug.exceptions import NotFound

from ..openapi import load_contract

SWAGGER_UI_DIST = Path(flask_swagger_ui.__file__).resolve().parent / "dist"
ASSETS = frozenset(
    {
        "swagger-ui.css",
        "index.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "favicon-32x32.png",
        "favicon-16x16.png",
        "oauth2-redirect.html",
        "oauth2-redirect.js",
    }
)

bp = Blueprint("docs", __name__)


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(load_contract())


@bp.get("/docs")
def swagger_ui() -> str:
    return render_template("swagger_ui.html")


@bp.get("/docs/assets/<name>")
def swagger_ui_asset(name: str) -> Response:
    if name not in ASSETS:
        raise NotFound()
    return send_from_directory(SWAGGER_UI_DIST, name, max_age=86400)
