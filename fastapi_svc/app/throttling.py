"""Throttling of password checks: a fixed window per (client address, username) for logins,
per account for password changes, counted in the database or Redis."""

import hashlib
import math
from datetime import timedelta

from redis.asyncio import Redis
from sqlalchemy import case, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import LoginFailure, utcnow
from app.revocation import dialect_insert

REDIS_PREFIX = "login_failures:"


def throttle_key(client_ip: str, username: str) -> str:
    return hashlib.sha256(f"{client_ip}\n{username.strip().lower()}".encode()).hexdigest()


def account_key(user_id: int) -> str:
    """The key of one account's password checks (`PUT /users/me/password`)."""
    return hashlib.sha256(f"account\n{user_id}".encode()).hexdigest()


def mail_key(email: str) -> str:
    """The key of the mails sent to one address (password resets, verification)."""
    return hashlib.sha256(f"mail\n{email.strip().lower()}".encode()).hexdigest()


def _retry_after(seconds: float, window: int) -> int:
    return min(max(math.ceil(seconds), 1), window)


async def reserve_attempt(
    session: AsyncSession,
    redis: Redis | None,
    settings: Settings,
    *,
    key: str,
    limit: int | None = None,
) -> int | None:
    """Count this attempt before its password is checked: None when it may go ahead,
    else the seconds until the window ends. The count and the check are one atomic
    step, so of many concurrent attempts at most `limit` (LOGIN_MAX_FAILURES) go ahead."""
    window = settings.login_failure_window_seconds
    limit = limit or settings.login_max_failures
    if redis is not None:
        name = REDIS_PREFIX + key
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, window, nx=True)
            pipe.pttl(name)
            count, _, pttl = await pipe.execute()
        return None if int(count) <= limit else _retry_after(int(pttl) / 1000, window)
    now = utcnow()
    stmt = dialect_insert(session, LoginFailure).values(key=key, failures=1, window_started_at=now)
    expired = LoginFailure.window_started_at <= now - timedelta(seconds=window)
    stmt = stmt.on_conflict_do_update(
        index_elements=["key"],
        set_={
            "failures": case((expired, 1), else_=LoginFailure.failures + 1),
            "window_started_at": case(
                (expired, stmt.excluded.window_started_at), else_=LoginFailure.window_started_at
            ),
        },
    ).returning(LoginFailure.failures, LoginFailure.window_started_at)
    failures, started = (await session.execute(stmt)).one()
    await session.commit()
    if failures <= limit:
        return None
    return _retry_after((started + timedelta(seconds=window) - now).total_seconds(), window)


async def release_attempt(
    session: AsyncSession, redis: Redis | None, settings: Settings, *, key: str
) -> None:
    """The attempt succeeded: it does not count as a failure."""
    if redis is not None:
        name = REDIS_PREFIX + key
        async with redis.pipeline(transaction=True) as pipe:
            pipe.decr(name)
            # A window that ended meanwhile leaves -1 behind: let it expire too.
            pipe.expire(name, settings.login_failure_window_seconds, nx=True)
            await pipe.execute()
        return
    await session.execute(
        update(LoginFailure)
        .where(LoginFailure.key == key, LoginFailure.failures > 0)
        .values(failures=LoginFailure.failures - 1)
    )
    await session.commit()
