"""Throttling of password checks: a fixed window per (client address, username) for
logins (the API's and the admin's), per account for password changes.

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


def account_key(user_id: int) -> str:
    """The key of one account's password checks (`PUT /users/me/password`)."""
    return hashlib.sha256(f"account\n{user_id}".encode()).hexdigest()


def mail_key(email: str) -> str:
    """The key of the mails sent to one address (password resets, verification)."""
    return hashlib.sha256(f"mail\n{email.strip().lower()}".encode()).hexdigest()


def reserve_attempt(*, key: str, limit: int | None = None) -> int | None:
    """Count this attempt before its password is checked: None when it may go ahead,
    else the seconds until the window ends. The count and the check are one atomic
    step, so of many concurrent attempts at most `limit` (LOGIN_MAX_FAILURES) go ahead."""
    limit = limit or settings.LOGIN_MAX_FAILURES
    now = timezone.now()
    if settings.REDIS_URL:
        from django_redis import get_redis_connection

        name = f"login_failures:{key}"
        pipe = get_redis_connection("default").pipeline()
        pipe.incr(name)
        pipe.expire(name, _window(), nx=True)
        pipe.pttl(name)
        count, _, pttl = pipe.execute()
        return None if int(count) <= limit else _clamp(pttl / 1000)
    expired = now - timedelta(seconds=_window())
    try:
        with transaction.atomic():
            LoginFailure.objects.get_or_create(
                key=key, defaults={"failures": 0, "window_started_at": now}
            )
    except IntegrityError:  # created concurrently: counted below all the same
        pass
    # One UPDATE, so concurrent attempts in several workers all count (the row stays
    # locked until the read-back); an ended window restarts at this attempt.
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
        failures, started = LoginFailure.objects.values_list("failures", "window_started_at").get(
            key=key
        )
    if failures <= limit:
        return None
    return _clamp((started + timedelta(seconds=_window()) - now).total_seconds())


def release_attempt(*, key: str) -> None:
    """The attempt succeeded: it does not count as a failure."""
    if settings.REDIS_URL:
        from django_redis import get_redis_connection

        name = f"login_failures:{key}"
        pipe = get_redis_connection("default").pipeline()
        pipe.decr(name)
        # A window that ended meanwhile leaves -1 behind: let it expire too.
        pipe.expire(name, _window(), nx=True)
        pipe.execute()
        return
    LoginFailure.objects.filter(key=key, failures__gt=0).update(failures=F("failures") - 1)
