"""Login throttling: a fixed window per (client address, username), in the database or Redis."""

import hashlib
import math
from datetime import timedelta

from redis.asyncio import Redis
from sqlalchemy import case
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import LoginFailure, utcnow
from app.revocation import dialect_insert

REDIS_PREFIX = "login_failures:"


def throttle_key(client_ip: str, username: str) -> str:
    return hashlib.sha256(f"{client_ip}\n{username.strip().lower()}".encode()).hexdigest()


async def login_retry_after(
    session: AsyncSession, redis: Redis | None, settings: Settings, *, key: str
) -> int | None:
    """Seconds until the key may try again, or None when it is not throttled."""
    window = settings.login_failure_window_seconds
    if redis is not None:
        raw = await redis.get(REDIS_PREFIX + key)
        if raw is None or int(raw) < settings.login_max_failures:
            return None
        ttl = await redis.ttl(REDIS_PREFIX + key)
        return min(max(int(ttl), 1), window)
    row = await session.get(LoginFailure, key, populate_existing=True)
    if row is None or row.failures < settings.login_max_failures:
        return None
    left = (row.window_started_at + timedelta(seconds=window) - utcnow()).total_seconds()
    if left <= 0:
        return None
    return min(max(math.ceil(left), 1), window)


async def register_login_failure(
    session: AsyncSession, redis: Redis | None, settings: Settings, *, key: str
) -> None:
    window = settings.login_failure_window_seconds
    if redis is not None:
        name = REDIS_PREFIX + key
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, window, nx=True)
            await pipe.execute()
        return
    now = utcnow()
    window_start = now - timedelta(seconds=window)
    # One atomic upsert: concurrent failures in several workers all count.
    stmt = dialect_insert(session, LoginFailure).values(key=key, failures=1, window_started_at=now)
    expired = LoginFailure.window_started_at <= window_start
    stmt = stmt.on_conflict_do_update(
        index_elements=["key"],
        set_={
            "failures": case((expired, 1), else_=LoginFailure.failures + 1),
            "window_started_at": case(
                (expired, stmt.excluded.window_started_at), else_=LoginFailure.window_started_at
            ),
        },
    )
    await session.execute(stmt)
    await session.commit()
