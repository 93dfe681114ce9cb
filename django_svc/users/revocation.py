"""The access-token deny-list: the database, or Redis keys with a TTL when `REDIS_URL` is set.

It is never kept in process memory, so a revocation holds across workers and
restarts. A Redis outage raises `RedisError`, which the error handlers turn
into a 503: the service fails closed and never accepts a revoked token.
"""

import math
from collections.abc import Mapping
from datetime import datetime

from django.conf import settings
from django.db.models import Exists
from django.utils import timezone

from users.models import RevokedToken, User


def _redis_key(jti: str) -> str:
    return f"revoked:{jti}"


def deny_access_tokens(tokens: Mapping[str, datetime]) -> None:
    """Deny-list each `jti` until its token would expire anyway."""
    now = timezone.now()
    live = {jti: expires for jti, expires in tokens.items() if jti and expires > now}
    if not live:
        return
    if settings.REDIS_URL:
        from django_redis import get_redis_connection

        pipe = get_redis_connection("default").pipeline()
        for jti, expires in live.items():
            pipe.set(_redis_key(jti), 1, ex=max(1, math.ceil((expires - now).total_seconds())))
        pipe.execute()
        return
    RevokedToken.objects.filter(expires_at__lte=now).delete()  # keep the table small
    RevokedToken.objects.bulk_create(
        [RevokedToken(jti=jti, expires_at=expires) for jti, expires in live.items()],
        ignore_conflicts=True,
    )


def user_for_access_token(*, user_id: int, jti: str) -> User | None:
    """The active user an access token names, unless its `jti` is deny-listed: one
    statement with the deny-list in the database, a Redis lookup and one without."""
    users = User.objects.filter(pk=user_id, is_active=True)
    if not settings.REDIS_URL:
        return users.filter(~Exists(RevokedToken.objects.filter(jti=jti))).first()
    from django_redis import get_redis_connection

    return None if get_redis_connection("default").exists(_redis_key(jti)) else users.first()
