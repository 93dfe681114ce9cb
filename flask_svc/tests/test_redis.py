"""The deny-list and throttle counts in Redis when REDIS_URL is set."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.extensions import db

from .conftest import PASSWORD, Api, bearer

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/12")


def _reachable() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


pytestmark = pytest.mark.skipif(not _reachable(), reason="no Redis server")


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield {**app_config, "REDIS_URL": REDIS_URL}
    client.flushdb()


def test_logout_revokes_in_redis(api: Api, client: FlaskClient) -> None:
    _, pair = api.user_with_token()
    assert client.post("/api/v1/auth/logout", headers=bearer(pair)).status_code == 204
    assert client.get("/api/v1/users/me", headers=bearer(pair)).status_code == 401
    keys = redis.Redis.from_url(REDIS_URL).keys("revoked:*")
    assert len(keys) == 1
    assert 0 < redis.Redis.from_url(REDIS_URL).ttl(keys[0]) <= 15 * 60


def test_throttle_counts_in_redis(api: Api, client: FlaskClient) -> None:
    user = api.register()
    for _ in range(3):
        client.post("/api/v1/auth/token", data={"username": user["email"], "password": "nope"})
    response = client.post(
        "/api/v1/auth/token", data={"username": user["email"], "password": PASSWORD}
    )
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_redis_down_fails_closed(app_config: dict[str, Any], app: Flask) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api = Api(app.test_client())
    _, pair = api.user_with_token()
    down = create_app({**app_config, "REDIS_URL": f"redis://127.0.0.1:{port}/0"})
    with down.app_context():
        db.create_all()
    client = down.test_client()
    response = client.get("/api/v1/users/me", headers=bearer(pair))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert client.get("/ready").status_code == 503
