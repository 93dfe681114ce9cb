"""The Redis client for the deny-list and the throttle counts, when REDIS_URL is set."""

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.config import Settings

REDIS_TIMEOUT_SECONDS = 2


def create_redis(settings: Settings) -> Redis | None:
    if not settings.redis_url:
        return None
    # Short timeouts and one retry: Redis down must give 503 within 5 seconds.
    return Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )
