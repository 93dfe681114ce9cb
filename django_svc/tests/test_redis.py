"""Redis mode (`REDIS_URL`): the deny-list and throttle counts live in Redis.

Uses a real Redis (TEST_REDIS_URL, default database 11 on localhost) and is
skipped when none answers.
"""

import os
from collections.abc import Callable, Iterator
from http import HTTPStatus

import pytest
import redis
from django.test import override_settings
from rest_framework.test import APIClient

from tests.conftest import PASSWORD, login
from users.models import RevokedToken, User

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/11")


def _redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


pytestmark = pytest.mark.skipif(not _redis_available(), reason="no Redis to test against")


@pytest.fixture
def redis_mode() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    before = set(client.keys("*"))
    caches = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
    with override_settings(REDIS_URL=REDIS_URL, CACHES=caches):
        yield client
    created = set(client.keys("*")) - before
    if created:
        client.delete(*created)


def test_logout_deny_lists_in_redis(
    redis_mode: redis.Redis, make_user: Callable[..., User]
) -> None:
    make_user()
    pair = login(APIClient(), "ada@example.com")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access_token']}")
    assert api.post("/api/v1/auth/logout").status_code == HTTPStatus.NO_CONTENT
    assert api.get("/api/v1/users/me").status_code == HTTPStatus.UNAUTHORIZED
    assert redis_mode.keys("revoked:*")
    assert not RevokedToken.objects.exists()


@override_settings(LOGIN_MAX_FAILURES=2)
def test_throttle_counts_in_redis(redis_mode: redis.Redis, make_user: Callable[..., User]) -> None:
    make_user()
    client = APIClient()
    bad = {"username": "ada@example.com", "password": "wrong-pass"}
    assert client.post("/api/v1/auth/token", bad, format="json").status_code == 401
    assert client.post("/api/v1/auth/token", bad, format="json").status_code == 401
    good = {"username": "ada@example.com", "password": PASSWORD}
    response = client.post("/api/v1/auth/token", good, format="json")
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert 1 <= int(response["Retry-After"]) <= 60


def test_redis_down_fails_closed(make_user: Callable[..., User]) -> None:
    make_user()
    pair = login(APIClient(), "ada@example.com")
    dead = "redis://127.0.0.1:1/0"
    caches = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": dead,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
    with override_settings(REDIS_URL=dead, CACHES=caches):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access_token']}")
        response = api.get("/api/v1/users/me")
        assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert response["Retry-After"] == "5"
        assert APIClient().get("/ready").status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert APIClient().get("/health").status_code == HTTPStatus.OK
