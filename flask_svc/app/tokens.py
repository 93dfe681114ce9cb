"""Token pairs, refresh-token rotation and revocation (database, or Redis for the deny-list)."""

from __future__ import annotations

import math
import re
import uuid
from datetime import UTC, datetime
from typing import Any, cast

import jwt as pyjwt
import redis
from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Executable,
    and_,
    case,
    delete,
    exists,
    func,
    select,
    update,
)

from .errors import InvalidTokenError
from .extensions import db, insert_ignoring_conflicts
from .models import RefreshToken, RevokedToken, User, utcnow
from .schemas import SessionPublic, TokenPair

# The contract's one reading of a token: canonical decimal ids, printable-ASCII jtis,
# times that fit a date.
SUBJECT = re.compile(r"[1-9][0-9]{0,18}")
JTI = re.compile(r"[\x21-\x7e]{1,64}")
MAX_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z
REQUIRED_CLAIMS = ("sub", "type", "jti", "iat", "exp", "iss")
REVOKED_PREFIX = "revoked:"

# A session id is its family id (a UUID); anything else names no session, and never
# reaches the database (a NUL in a path would not survive PostgreSQL).
SESSION_ID = re.compile(r"[0-9a-f-]{1,64}")


def claims_problem(claims: dict[str, Any]) -> str | None:
    """Why a token's claims do not have the shared shape, or None when they do."""
    for claim in REQUIRED_CLAIMS:
        if claim not in claims:
            return f"Missing claim: {claim}"
    sub, jti = claims["sub"], claims["jti"]
    if not isinstance(sub, str) or not SUBJECT.fullmatch(sub) or int(sub) >= 2**63:
        return "Invalid claim: sub"
    if not isinstance(jti, str) or not JTI.fullmatch(jti):
        return "Invalid claim: jti"
    for claim in ("iat", "exp", "nbf"):
        # Integer seconds only: PyJWT would also take "9999999999" or a float.
        value = claims.get(claim, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value > MAX_TIMESTAMP:
            return f"Invalid claim: {claim}"
    if claims["type"] not in ("access", "refresh"):
        return "Invalid claim: type"
    return None


def redis_client() -> redis.Redis | None:
    client: redis.Redis | None = current_app.extensions.get("redis_client")
    return client


def _affected(statement: Executable) -> int:
    """Run a write and return how many rows it changed."""
    result = cast(CursorResult[Any], db.session.execute(statement))
    return int(result.rowcount or 0)


def _expiry(claims: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(claims["exp"], UTC)


def issue_token_pair(
    *,
    user: User,
    family_id: str | None = None,
    user_agent: str | None = None,
    ip: str | None = None,
) -> TokenPair:
    """A new access and refresh token; the refresh token is recorded in its family. A
    login (no family yet) also sets the user's last_login_at."""
    if family_id is None:
        user.last_login_at = utcnow()
    identity = str(user.id)
    access_token = create_access_token(identity=identity)
    refresh_token = create_refresh_token(identity=identity)
    access, refresh = decode_token(access_token), decode_token(refresh_token)
    db.session.add(
        RefreshToken(
            jti=refresh["jti"],
            user_id=user.id,
            family_id=family_id or str(uuid.uuid4()),
            access_jti=access["jti"],
            access_expires_at=_expiry(access),
            expires_at=_expiry(refresh),
            user_agent=user_agent[:255] if user_agent else None,
            ip=ip,
        )
    )
    lifetime = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    return TokenPair(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_in=int(lifetime.total_seconds()),
    )


def decode_refresh_token(token: str) -> dict[str, Any] | None:
    """The claims of a valid refresh token (signature, expiry, shape), else None."""
    try:
        claims = decode_token(token)
    except (pyjwt.PyJWTError, JWTExtendedException):
        return None
    return claims if claims["type"] == "refresh" else None


def _revoke_family(family_id: str, now: datetime) -> None:
    db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def _record_as_used(claims: dict[str, Any], now: datetime) -> str | None:
    """Record a refresh token issued elsewhere as used; its new family id if this call won."""
    family_id = str(uuid.uuid4())
    # RETURNING tells whether this call inserted the row (rowcount is not
    # reliable for INSERT ... ON CONFLICT on every driver).
    inserted = db.session.scalar(
        insert_ignoring_conflicts(RefreshToken)
        .values(
            jti=claims["jti"],
            user_id=int(claims["sub"]),
            family_id=family_id,
            expires_at=_expiry(claims),
            revoked_at=now,
            created_at=now,
        )
        .returning(RefreshToken.jti)
    )
    return family_id if inserted is not None else None


# --8<-- [start:rotate]
def rotate_refresh_token(*, token: str) -> TokenPair:
    """Revoke the presented refresh token and issue a new pair in its family.

    The conditional UPDATE lets exactly one concurrent caller win. A token
    already revoked is reuse: its whole family is revoked. Anything but a valid,
    unused refresh token of an active user raises InvalidTokenError.
    """
    claims = decode_refresh_token(token)
    if claims is None:
        raise InvalidTokenError
    # The user's row stays locked until this rotation commits (PostgreSQL; SQLite has one
    # writer anyway): a reuse revoking the family, a password change or a deactivation
    # waits for it, and then revokes the token issued here too.
    user = db.session.get(User, int(claims["sub"]), with_for_update=True)
    if user is None or not user.is_active:
        raise InvalidTokenError
    now = utcnow()
    jti = claims["jti"]
    # RETURNING names the winner's family in the same round trip; only a loser reads the row.
    won = db.session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.jti == jti,
            RefreshToken.user_id == user.id,
            RefreshToken.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .returning(RefreshToken.family_id, RefreshToken.user_agent, RefreshToken.ip)
    ).one_or_none()
    family_id, user_agent, ip = won or (None, None, None)
    if family_id is None:
        row = db.session.execute(
            select(RefreshToken.family_id, RefreshToken.user_id).where(RefreshToken.jti == jti)
        ).one_or_none()
        if row is not None:
            if row.user_id == user.id:
                _revoke_family(row.family_id, now)
                db.session.commit()
            raise InvalidTokenError
        family_id = _record_as_used(claims, now)
        if family_id is None:
            db.session.rollback()
            raise InvalidTokenError
    pair = issue_token_pair(user=user, family_id=family_id, user_agent=user_agent, ip=ip)
    db.session.commit()
    return pair
    # --8<-- [end:rotate]


def _deny(jtis: dict[str, datetime]) -> None:
    """Put access token ids on the deny-list until they expire."""
    now = utcnow()
    live = {jti: expires for jti, expires in jtis.items() if expires > now}
    if not live:
        return
    client = redis_client()
    if client is not None:
        with client.pipeline() as pipe:
            for jti, expires in live.items():
                seconds = max(1, math.ceil((expires - now).total_seconds()))
                pipe.set(REVOKED_PREFIX + jti, 1, ex=seconds)
            pipe.execute()
        return
    for jti, expires in live.items():
        db.session.execute(
            insert_ignoring_conflicts(RevokedToken).values(jti=jti, expires_at=expires)
        )


def is_token_revoked(jti: str) -> bool:
    """Redis only: with the deny-list in the database, `user_for_access_token` reads it."""
    client = redis_client()
    return client is not None and bool(client.exists(REVOKED_PREFIX + jti))


def user_for_access_token(*, user_id: int, jti: str) -> User | None:
    """The active user an access token names; with the deny-list in the database, unless its
    `jti` is on it, in the same statement."""
    query = select(User).where(User.id == user_id, User.is_active)
    if redis_client() is None:
        query = query.where(~exists().where(RevokedToken.jti == jti))
    return db.session.scalar(query)


def revoke_tokens(*, user: User, access: dict[str, Any], refresh_token: str | None) -> None:
    """Logout: the presented access token and, if it is this user's, the refresh token's family.

    A refresh token that is malformed, expired, unknown or someone else's
    revokes nothing else.
    """
    now = utcnow()
    claims = decode_refresh_token(refresh_token) if refresh_token else None
    if claims is not None and claims["sub"] == str(user.id):
        row = db.session.scalar(select(RefreshToken).where(RefreshToken.jti == claims["jti"]))
        if row is None:
            _record_as_used(claims, now)
        elif row.user_id == user.id:
            _revoke_family(row.family_id, now)
    # Redis first: if it is down the request fails and the database rolls back.
    _deny({access["jti"]: _expiry(access)})
    db.session.commit()


def _live_access_tokens(*where: ColumnElement[bool], now: datetime) -> dict[str, datetime]:
    """The unexpired access tokens issued beside the matching refresh tokens."""
    rows = db.session.execute(
        select(RefreshToken.access_jti, RefreshToken.access_expires_at).where(
            *where, RefreshToken.access_jti.is_not(None), RefreshToken.access_expires_at > now
        )
    ).all()
    return {jti: expires for jti, expires in rows if jti and expires}


def revoke_all_for_user(*, user: User, access: dict[str, Any] | None = None) -> None:
    """Password change: every access token recorded for the user, and all refresh tokens."""
    # Lock the user's row first: a rotation in flight (which holds it) finishes, and
    # its new token is revoked here too.
    db.session.execute(select(User.id).where(User.id == user.id).with_for_update())
    now = utcnow()
    jtis = _live_access_tokens(RefreshToken.user_id == user.id, now=now)
    if access is not None:
        jtis[access["jti"]] = _expiry(access)
    _deny(jtis)
    db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def list_sessions(*, user: User, access: dict[str, Any]) -> list[SessionPublic]:
    """One entry per family with a live refresh token, newest login first."""
    now = utcnow()
    live = and_(RefreshToken.revoked_at.is_(None), RefreshToken.expires_at > now)
    started = func.min(RefreshToken.created_at)
    rows = db.session.execute(
        select(
            RefreshToken.family_id,
            started,
            func.max(RefreshToken.created_at),
            func.max(RefreshToken.user_agent),
            func.max(RefreshToken.ip),
            func.max(case((RefreshToken.access_jti == access["jti"], 1), else_=0)),
        )
        .where(RefreshToken.user_id == user.id)
        .group_by(RefreshToken.family_id)
        .having(func.sum(case((live, 1), else_=0)) > 0)
        .order_by(started.desc(), RefreshToken.family_id)
    ).all()
    return [
        SessionPublic(
            id=family_id,
            created_at=created,
            last_used_at=last_used,
            user_agent=user_agent,
            ip=ip,
            current=bool(current),
        )
        for family_id, created, last_used, user_agent, ip, current in rows
    ]


def end_session(*, user: User, session_id: str) -> bool:
    """Revoke one of the user's live families and deny its access tokens; False when the
    user has no such live login."""
    if not SESSION_ID.fullmatch(session_id):
        return False
    now = utcnow()
    ended = _affected(
        update(RefreshToken)
        .where(
            RefreshToken.user_id == user.id,
            RefreshToken.family_id == session_id,
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > now,
        )
        .values(revoked_at=now)
    )
    if not ended:
        db.session.rollback()
        return False
    _deny(_live_access_tokens(RefreshToken.family_id == session_id, now=now))
    db.session.commit()
    return True


def prune_expired() -> int:
    """Delete deny-list rows and refresh records whose tokens have expired."""
    now = utcnow()
    removed = _affected(delete(RevokedToken).where(RevokedToken.expires_at <= now))
    removed += _affected(delete(RefreshToken).where(RefreshToken.expires_at <= now))
    db.session.commit()
    return removed
