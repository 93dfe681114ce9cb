"""Login throttling: a fixed window per (client address, username).

The window opens at a key's first failure and lasts
`LOGIN_FAILURE_WINDOW_SECONDS`; once it holds `LOGIN_MAX_FAILURES`
failures every attempt gets 429 until it ends. Counts live in the database
(an atomic UPDATE) or in Redis (`INCR` + `EXPIRE NX`), never in memory.
DRF's throttles count requests, not failures, so they do not fit here.
"""

import hashlib
import ipaddress
import math
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When
from django.http import HttpRequest
from django.utils import timezone

from users.models import LoginFailure


def _trusted(address: str, trusted: list[str]) -> bool:
    if "*" in trusted:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in trusted:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_address(request: HttpRequest) -> str:
    """The TCP peer; `X-Forwarded-For` only when the peer is in `FORWARDED_ALLOW_IPS`.

    Walking the header from the right, the first address that is not a
    trusted proxy is the client (as uvicorn does).
    """
    peer = str(request.META.get("REMOTE_ADDR", ""))
    trusted = [t.strip() for t in settings.FORWARDED_ALLOW_IPS.split(",") if t.strip()]
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    if not trusted or not forwarded or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


def login_key(*, address: str, username: str) -> str:
    return hashlib.sha256(f"{address}\n{username.strip().lower()}".encode()).hexdigest()


def _window() -> int:
    return int(settings.LOGIN_FAILURE_WINDOW_SECONDS)


def _clamp(seconds: float) -> int:
    return min(_window(), max(1, math.ceil(seconds)))


def login_retry_after(*, key: str) -> int | None:
    """Seconds until `key` may try again, or None when it is not throttled."""
    if settings.REDIS_URL:
        from django_redis import get_redis_connection

        pipe = get_redis_connection("default").pipeline()
        pipe.get(f"login_failures:{key}")
        pipe.pttl(f"login_failures:{key}")
        count, pttl = pipe.execute()
        if count is None or int(count) < settings.LOGIN_MAX_FAILURES or pttl <= 0:
            return None
        return _clamp(pttl / 1000)
    row = LoginFailure.objects.filter(key=key).first()
    if row is None or row.failures < settings.LOGIN_MAX_FAILURES:
        return None
    remaining = (
        row.window_started_at + timedelta(seconds=_window()) - timezone.now()
    ).total_seconds()
    return _clamp(remaining) if remaining > 0 else None


def register_login_failure(*, key: str) -> int:
    """Count one failure for `key`; returns the count in the current window."""
    if settings.REDIS_URL:
        from django_redis import get_redis_connection

        pipe = get_redis_connection("default").pipeline()
        pipe.incr(f"login_failures:{key}")
        pipe.expire(f"login_failures:{key}", _window(), nx=True)
        count, _ = pipe.execute()
        return int(count)
    now = timezone.now()
    expired = now - timedelta(seconds=_window())
    try:
        with transaction.atomic():
            _, created = LoginFailure.objects.get_or_create(
                key=key, defaults={"failures": 1, "window_started_at": now}
            )
    except IntegrityError:  # created concurrently: count ours below
        created = False
    if created:
        return 1
    # One statement, so concurrent failures in several workers all count; an
    # expired window restarts at this failure.
    with transaction.atomic():
        LoginFailure.objects.filter(key=key).update(
            failures=Case(
                When(window_started_at__lte=expired, then=Value(1)), default=F("failures") + 1
            ),
            window_started_at=Case(
                When(window_started_at__lte=expired, then=Value(now)),
                default=F("window_started_at"),
            ),
        )
        # Read back inside the same transaction: the row is locked by our UPDATE.
        return LoginFailure.objects.values_list("failures", flat=True).get(key=key)
