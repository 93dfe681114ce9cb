"""Login throttling: a fixed window of failed logins per (client address, username)."""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta

from flask import current_app, request
from sqlalchemy import case
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


def login_retry_after(key: str) -> int | None:
    """Seconds until the window ends when the key is throttled, else None."""
    max_failures, window = _limits()
    client = redis_client()
    if client is not None:
        with client.pipeline(transaction=False) as pipe:
            pipe.get(KEY_PREFIX + key)
            pipe.pttl(KEY_PREFIX + key)
            count, ttl_ms = pipe.execute()
        if count is None or int(count) < max_failures or ttl_ms is None or ttl_ms < 0:
            return None
        return min(window, max(1, math.ceil(int(ttl_ms) / 1000)))
    row: LoginFailure | None = db.session.get(LoginFailure, key)
    if row is None or row.failures < max_failures:
        return None
    left = (row.window_started_at + timedelta(seconds=window) - utcnow()).total_seconds()
    if left <= 0:
        return None
    return min(window, max(1, math.ceil(left)))


def register_login_failure(key: str) -> None:
    """Count one failure atomically, so concurrent workers never lose a count."""
    _, window = _limits()
    client = redis_client()
    if client is not None:
        with client.pipeline(transaction=True) as pipe:
            pipe.incr(KEY_PREFIX + key)
            pipe.expire(KEY_PREFIX + key, window, nx=True)
            pipe.execute()
        return
    now = utcnow()
    window_over = LoginFailure.window_started_at <= now - timedelta(seconds=window)
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(LoginFailure).values(key=key, failures=1, window_started_at=now)
    # One upsert: a new key or an ended window starts over, otherwise add one.
    table = LoginFailure.__table__
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "failures": case((window_over, 1), else_=table.c.failures + 1),
            "window_started_at": case(
                (window_over, statement.excluded.window_started_at),
                else_=table.c.window_started_at,
            ),
        },
    )
    db.session.execute(statement)
    db.session.commit()
