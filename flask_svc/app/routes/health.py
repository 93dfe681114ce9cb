"""Liveness and readiness."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from ..extensions import db
from ..tokens import redis_client

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> Response:
    """The process answers; touches nothing outside it."""
    return jsonify(status="ok")


@bp.get("/ready")
def ready() -> Response:
    """The database (and Redis, when configured) answer; errors become 503 problems."""
    db.session.execute(text("SELECT 1"))
    client = redis_client()
    if client is not None:
        client.ping()
    return jsonify(status="ok")
