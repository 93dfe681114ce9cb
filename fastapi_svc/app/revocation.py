"""Deny-list of access token ids: the revoked_tokens table, or Redis keys with a TTL."""

import math
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import delete, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import RevokedToken, User, utcnow

REDIS_PREFIX = "revoked:"


def dialect_insert(session: AsyncSession, model: Any) -> Any:
    """INSERT ... ON CONFLICT for the dialect in use (both support it the same way)."""
    name = session.get_bind().dialect.name
    return postgresql.insert(model) if name == "postgresql" else sqlite.insert(model)


async def deny_access_token(
    session: AsyncSession, redis: Redis | None, *, jti: str, expires_at: datetime
) -> None:
    now = utcnow()
    if expires_at <= now:
        return  # already dead: nothing to remember
    if redis is not None:
        seconds = max(1, math.ceil((expires_at - now).total_seconds()))
        await redis.set(REDIS_PREFIX + jti, "1", ex=seconds)
        return
    stmt = dialect_insert(session, RevokedToken).values(jti=jti, expires_at=expires_at)
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["jti"]))
    # Keep the table small: entries past their token's expiry can go.
    await session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))


async def user_for_access_token(
    session: AsyncSession, redis: Redis | None, *, user_id: int, jti: str
) -> User | None:
    """The active user an access token names, unless its `jti` is deny-listed: one
    statement with the deny-list in the database, a Redis lookup and one without."""
    query = select(User).where(User.id == user_id, User.is_active)
    if redis is None:
        query = query.where(~exists().where(RevokedToken.jti == jti))
    elif await redis.exists(REDIS_PREFIX + jti):
        return None
    return await session.scalar(query)
