"""Throttling of password checks: a fixed window per (client address, username) for logins,
per account for password changes, counted in the database or Redis."""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta

from flask import current_app, request
from sqlalchemy import case, update
from sqlalchemy.dialects import postgresql, sqlite

from .extensions import db
from .models import LoginFailure, utcnow
from .tokens import redis_client

KEY_PREFIX = "login_failures:"


def throttle_key(username: str) -> str:
    """sha256 of "<client address>\\n<username trimmed and lower-cased>"."""
    # remote_addr is the TCP peer (or the trusted proxy's client, see middleware).
    address = request.remote_addr or ""
    return hashlib.sha256(f"{address}\n{username.strip().lower()}".encode()).hexdigest()


def _limits() -> tuple[int, int]:
    config = current_app.config
    return int(config["LOGIN_MAX_FAILURES"]), int(config["LOGIN_FAILURE_WINDOW_SECONDS"])


def account_key(user_id: int) -> str:
    """The key of one account's password checks (`PUT /users/me/password`)."""
    return hashlib.sha256(f"account\n{user_id}".encode()).hexdigest()


def mail_key(email: str) -> str:
    """The key of the mails sent to one address (password resets, verification)."""
    return hashlib.sha256(f"mail\n{email.strip().lower()}".encode()).hexdigest()


def _retry_after(seconds: float, window: int) -> int:
    return min(window, max(1, math.ceil(seconds)))


def reserve_attempt(*, key: str, limit: int | None = None) -> int | None:
    """Count this attempt before its password is checked: None when it may go ahead,
    else the seconds until the window ends. The count and the check are one atomic
    step, so of many concurrent attempts at most `limit` (LOGIN_MAX_FAILURES) go ahead."""
    max_failures, window = _limits()
    max_failures = limit or max_failures
    client = redis_client()
    if client is not None:
        with client.pipeline(transaction=True) as pipe:
            pipe.incr(KEY_PREFIX + key)
            pipe.expire(KEY_PREFIX + key, window, nx=True)
            pipe.pttl(KEY_PREFIX + key)
            count, _, ttl_ms = pipe.execute()
        return None if int(count) <= max_failures else _retry_after(int(ttl_ms) / 1000, window)
    now = utcnow()
    window_over = LoginFailure.window_started_at <= now - timedelta(seconds=window)
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(LoginFailure).values(key=key, failures=1, window_started_at=now)
    # One upsert: a new key or an ended window starts over, otherwise add one.
    table = LoginFailure.__table__
    upsert = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "failures": case((window_over, 1), else_=table.c.failures + 1),
            "window_started_at": case(
                (window_over, statement.excluded.window_started_at),
                else_=table.c.window_started_at,
            ),
        },
    ).returning(table.c.failures, table.c.window_started_at)
    failures, started = db.session.execute(upsert).one()
    db.session.commit()
    if failures <= max_failures:
        return None
    return _retry_after((started + timedelta(seconds=window) - now).total_seconds(), window)


def release_attempt(*, key: str) -> None:
    """The attempt succeeded: it does not count as a failure."""
    _, window = _limits()
    client = redis_client()
    if client is not None:
        with client.pipeline(transaction=True) as pipe:
            pipe.decr(KEY_PREFIX + key)
            # A window that ended meanwhile leaves -1 behind: let it expire too.
            pipe.expire(KEY_PREFIX + key, window, nx=True)
            pipe.execute()
        return
    db.session.execute(
        update(LoginFailure)
        .where(LoginFailure.key == key, LoginFailure.failures > 0)
        .values(failures=LoginFailure.failures - 1)
    )
    db.session.commit()
