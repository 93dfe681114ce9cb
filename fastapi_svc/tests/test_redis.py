"""The Redis deny-list and throttle counts (skipped when no Redis answers).

Uses TEST_REDIS_URL, by default database 10 of a local Redis, and flushes only it."""

import os
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from app import services
from app.config import Settings
from app.models import utcnow
from app.revocation import deny_access_token, user_for_access_token
from app.schemas import UserCreate
from app.throttling import release_attempt, reserve_attempt, throttle_key

from .helpers import PASSWORD, unique_email

REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/10")


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except RedisError:
        await client.aclose()
        pytest.skip(f"no Redis at {REDIS_TEST_URL}")
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


async def test_deny_list_in_redis(redis: Redis, session: AsyncSession, settings: Settings) -> None:
    user = await services.create_user(
        session, settings, data=UserCreate(email=unique_email(), password=PASSWORD, name="Ada")
    )
    await deny_access_token(session, redis, jti="j1", expires_at=utcnow() + timedelta(minutes=5))
    assert await user_for_access_token(session, redis, user_id=user.id, jti="j1") is None
    assert await user_for_access_token(session, redis, user_id=user.id, jti="j2") == user
    assert 0 < await redis.ttl("revoked:j1") <= 300


async def test_throttle_counts_in_redis(
    redis: Redis, session: AsyncSession, settings: Settings
) -> None:
    key = throttle_key("10.0.0.1", "someone@example.com")
    for _ in range(settings.login_max_failures):
        assert await reserve_attempt(session, redis, settings, key=key) is None
    await release_attempt(session, redis, settings, key=key)  # a success does not count
    assert await reserve_attempt(session, redis, settings, key=key) is None
    retry = await reserve_attempt(session, redis, settings, key=key)
    assert retry is not None
    assert 1 <= retry <= settings.login_failure_window_seconds
