"""Token pairs: issuing, rotation with reuse detection, logout and revoking them all."""

import re
import uuid
from datetime import datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy import ColumnElement, and_, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.config import Settings
from app.models import RefreshToken, User, utcnow
from app.revocation import deny_access_token
from app.schemas import SessionPublic, TokenPair
from app.security import TokenClaims, decode_token, encode_token

# A session id is its family id (a UUID); anything else names no session, and never
# reaches the database (a NUL in a path would not survive PostgreSQL).
SESSION_ID = re.compile(r"[0-9a-f-]{1,64}")


async def issue_token_pair(
    session: AsyncSession,
    settings: Settings,
    *,
    user: User,
    family_id: str | None = None,
    user_agent: str | None = None,
    ip: str | None = None,
) -> TokenPair:
    """A login's pair (a new family, the user's last_login_at), or a rotation's."""
    now = utcnow()
    if family_id is None:
        user.last_login_at = now
    access = encode_token(
        settings,
        user_id=user.id,
        token_type="access",
        now=now,
        lifetime=timedelta(seconds=settings.access_token_seconds),
    )
    refresh = encode_token(
        settings,
        user_id=user.id,
        token_type="refresh",
        now=now,
        lifetime=timedelta(seconds=settings.refresh_token_seconds),
    )
    session.add(
        RefreshToken(
            jti=refresh.jti,
            user_id=user.id,
            family_id=family_id or str(uuid.uuid4()),
            access_jti=access.jti,
            access_expires_at=access.expires_at,
            expires_at=refresh.expires_at,
            created_at=now,
            user_agent=user_agent[:255] if user_agent else None,
            ip=ip,
        )
    )
    await session.commit()
    return TokenPair(
        access_token=access.token,
        refresh_token=refresh.token,
        expires_in=settings.access_token_seconds,
    )


async def _revoke_family(session: AsyncSession, *, family_id: str, now: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def _record_foreign_refresh_token(
    session: AsyncSession, *, claims: TokenClaims, now: datetime
) -> str | None:
    """A valid refresh token with no row (issued by another service with the same secret):
    record it as used in a new family. The unique jti decides concurrent callers."""
    family_id = str(uuid.uuid4())
    session.add(
        RefreshToken(
            jti=claims.jti,
            user_id=claims.user_id,
            family_id=family_id,
            expires_at=datetime.fromtimestamp(claims.expires_at, now.tzinfo),
            revoked_at=now,
            created_at=now,
        )
    )
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return None
    return family_id


# --8<-- [start:rotate]
async def rotate_refresh_token(
    session: AsyncSession, settings: Settings, *, token: str
) -> TokenPair:
    claims = decode_token(settings, token, expected_type="refresh")
    # The user's row stays locked until this rotation commits (PostgreSQL; SQLite has one
    # writer anyway): a reuse revoking the family, a password change or a deactivation
    # waits for it, and then revokes the token issued here too.
    user = await session.get(User, claims.user_id, populate_existing=True, with_for_update=True)
    if user is None or not user.is_active:
        raise errors.InvalidTokenError
    now = utcnow()
    # Exactly one concurrent caller flips revoked_at; the others see rowcount 0.
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.jti == claims.jti, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(RefreshToken.family_id, RefreshToken.user_agent, RefreshToken.ip)
    )
    family_id, user_agent, ip = result.one_or_none() or (None, None, None)
    if family_id is None:
        row = await session.scalar(select(RefreshToken).where(RefreshToken.jti == claims.jti))
        if row is not None:
            # Reuse of a rotated (or revoked) token: the whole family goes.
            await _revoke_family(session, family_id=row.family_id, now=now)
            await session.commit()
            raise errors.InvalidTokenError
        family_id = await _record_foreign_refresh_token(session, claims=claims, now=now)
        if family_id is None:
            raise errors.InvalidTokenError
    return await issue_token_pair(
        session, settings, user=user, family_id=family_id, user_agent=user_agent, ip=ip
    )
    # --8<-- [end:rotate]


async def revoke_tokens(
    session: AsyncSession,
    redis: Redis | None,
    settings: Settings,
    *,
    user: User,
    access: TokenClaims,
    refresh_token: str | None,
) -> None:
    """Logout: the presented access token, and the refresh token's family when it is
    the caller's own. Anything else about the refresh token is silently ignored."""
    now = utcnow()
    await deny_access_token(
        session,
        redis,
        jti=access.jti,
        expires_at=datetime.fromtimestamp(access.expires_at, now.tzinfo),
    )
    if refresh_token:
        try:
            claims: TokenClaims | None = decode_token(
                settings, refresh_token, expected_type="refresh"
            )
        except errors.InvalidTokenError:
            claims = None
        if claims is not None and claims.user_id == user.id:
            row = await session.scalar(select(RefreshToken).where(RefreshToken.jti == claims.jti))
            if row is not None and row.user_id == user.id:
                await _revoke_family(session, family_id=row.family_id, now=now)
            elif row is None:
                await session.commit()
                await _record_foreign_refresh_token(session, claims=claims, now=now)
    await session.commit()


async def _live_access_tokens(
    session: AsyncSession, *where: ColumnElement[bool], now: datetime
) -> dict[str, datetime]:
    """The unexpired access tokens issued beside the matching refresh tokens."""
    rows = await session.execute(
        select(RefreshToken.access_jti, RefreshToken.access_expires_at).where(
            *where, RefreshToken.access_jti.is_not(None), RefreshToken.access_expires_at > now
        )
    )
    return {jti: expires for jti, expires in rows.all() if jti and expires}


async def revoke_all_for_user(
    session: AsyncSession, redis: Redis | None, *, user: User, access: TokenClaims | None
) -> None:
    """Every refresh token of the user, and every access token issued with one (each is
    recorded beside its refresh token), and the presented one."""
    # The user's row first (PostgreSQL: a rotation in flight holds it, and finishes), then
    # the refresh tokens (SQLite: this write takes the one writer's lock), and only then
    # the access tokens to deny: a token issued in the race is among them.
    await session.execute(select(User.id).where(User.id == user.id).with_for_update())
    now = utcnow()
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    denied = await _live_access_tokens(session, RefreshToken.user_id == user.id, now=now)
    if access is not None:
        denied.setdefault(access.jti, datetime.fromtimestamp(access.expires_at, now.tzinfo))
    for jti, expires_at in denied.items():
        await deny_access_token(session, redis, jti=jti, expires_at=expires_at)


async def list_sessions(
    session: AsyncSession, *, user: User, access: TokenClaims
) -> list[SessionPublic]:
    """One entry per family with a live refresh token, newest login first."""
    now = utcnow()
    live = and_(RefreshToken.revoked_at.is_(None), RefreshToken.expires_at > now)
    started = func.min(RefreshToken.created_at)
    rows = await session.execute(
        select(
            RefreshToken.family_id,
            started,
            func.max(RefreshToken.created_at),
            func.max(RefreshToken.user_agent),
            func.max(RefreshToken.ip),
            func.max(case((RefreshToken.access_jti == access.jti, 1), else_=0)),
        )
        .where(RefreshToken.user_id == user.id)
        .group_by(RefreshToken.family_id)
        .having(func.sum(case((live, 1), else_=0)) > 0)
        .order_by(started.desc(), RefreshToken.family_id)
    )
    return [
        SessionPublic(
            id=family_id,
            created_at=created,
            last_used_at=last_used,
            user_agent=user_agent,
            ip=ip,
            current=bool(current),
        )
        for family_id, created, last_used, user_agent, ip, current in rows.all()
    ]


async def end_session(
    session: AsyncSession, redis: Redis | None, *, user: User, session_id: str
) -> bool:
    """Revoke one of the user's live families and deny its access tokens; False when the
    user has no such live login."""
    if not SESSION_ID.fullmatch(session_id):
        return False
    now = utcnow()
    ended = await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.user_id == user.id,
            RefreshToken.family_id == session_id,
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > now,
        )
        .values(revoked_at=now)
    )
    if not ended.rowcount:  # type: ignore[attr-defined]
        await session.rollback()
        return False
    denied = await _live_access_tokens(session, RefreshToken.family_id == session_id, now=now)
    for jti, expires_at in denied.items():
        await deny_access_token(session, redis, jti=jti, expires_at=expires_at)
    await session.commit()
    return True
