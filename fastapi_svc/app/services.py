"""Business operations. Keyword-only, typed; the same names in the three services."""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.config import Settings
from app.models import RefreshToken, User, utcnow
from app.revocation import deny_access_token
from app.schemas import TokenPair, UserCreate
from app.security import (
    InvalidTokenError,
    TokenClaims,
    decode_token,
    encode_token,
    hash_password,
    verify_password,
)

# Checked for unknown emails so that they cost as much as a wrong password.
_DUMMY_PASSWORD = "dummy password never matches"
_dummy_hashes: dict[str, str] = {}


async def _dummy_hash(settings: Settings) -> str:
    if settings.app_env not in _dummy_hashes:
        _dummy_hashes[settings.app_env] = await hash_password(settings, _DUMMY_PASSWORD)
    return _dummy_hashes[settings.app_env]


async def get_user(session: AsyncSession, *, user_id: int) -> User | None:
    return await session.get(User, user_id, populate_existing=True)


async def get_user_by_email(session: AsyncSession, *, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email.lower()))


async def list_users(
    session: AsyncSession,
    *,
    limit: int,
    offset: int,
    search: str | None = None,
    is_active: bool | None = None,
) -> tuple[int, Sequence[User]]:
    conditions: list[Any] = []
    if search:
        needle = search.lower()
        conditions.append(
            or_(
                func.lower(User.name).contains(needle, autoescape=True),
                User.email.contains(needle, autoescape=True),
            )
        )
    if is_active is not None:
        conditions.append(User.is_active.is_(is_active))
    count = await session.scalar(select(func.count()).select_from(User).where(*conditions))
    rows = await session.scalars(
        select(User).where(*conditions).order_by(User.id).limit(limit).offset(offset)
    )
    return count or 0, rows.all()


async def create_user(
    session: AsyncSession, settings: Settings, *, data: UserCreate, is_admin: bool = False
) -> User:
    user = User(
        email=data.email,
        name=data.name,
        age=data.age,
        password_hash=await hash_password(settings, data.password),
        is_active=True,
        is_admin=is_admin,
        created_at=utcnow(),
    )
    session.add(user)
    try:
        # The unique index decides races on one email, not a pre-check.
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise errors.APIProblem(409, errors.EMAIL_TAKEN) from None
    return user


async def update_user(session: AsyncSession, *, user: User, changes: dict[str, Any]) -> User:
    for field, value in changes.items():
        setattr(user, field, value)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise errors.APIProblem(409, errors.EMAIL_TAKEN) from None
    return user


async def delete_user(session: AsyncSession, *, user: User) -> None:
    # refresh_tokens rows go with it (ON DELETE CASCADE); its tokens then name no user.
    await session.delete(user)
    await session.commit()


async def set_user_active(session: AsyncSession, *, user: User, active: bool) -> User:
    user.is_active = active
    await session.commit()
    return user


async def authenticate(
    session: AsyncSession, settings: Settings, *, email: str, password: str
) -> User | None:
    """The user for these credentials, or None; every failure costs one hash check."""
    user = await get_user_by_email(session, email=email.strip().lower())
    # End the transaction before the slow hash check: it holds a pooled connection.
    await session.commit()
    if user is None:
        await verify_password(settings, password, await _dummy_hash(settings))
        return None
    if not await verify_password(settings, password, user.password_hash):
        return None
    return user if user.is_active else None


async def issue_token_pair(
    session: AsyncSession, settings: Settings, *, user: User, family_id: str | None = None
) -> TokenPair:
    now = utcnow()
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


async def rotate_refresh_token(
    session: AsyncSession, settings: Settings, *, token: str
) -> TokenPair:
    try:
        claims = decode_token(settings, token, expected_type="refresh")
    except InvalidTokenError:
        raise errors.invalid_token() from None
    user = await get_user(session, user_id=claims.user_id)
    if user is None or not user.is_active:
        raise errors.invalid_token()
    now = utcnow()
    # Exactly one concurrent caller flips revoked_at; the others see rowcount 0.
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.jti == claims.jti, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(RefreshToken.family_id)
    )
    family_id = result.scalar_one_or_none()
    if family_id is None:
        row = await session.scalar(select(RefreshToken).where(RefreshToken.jti == claims.jti))
        if row is not None:
            # Reuse of a rotated (or revoked) token: the whole family goes.
            await _revoke_family(session, family_id=row.family_id, now=now)
            await session.commit()
            raise errors.invalid_token()
        family_id = await _record_foreign_refresh_token(session, claims=claims, now=now)
        if family_id is None:
            raise errors.invalid_token()
    return await issue_token_pair(session, settings, user=user, family_id=family_id)


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
        except InvalidTokenError:
            claims = None
        if claims is not None and claims.user_id == user.id:
            row = await session.scalar(select(RefreshToken).where(RefreshToken.jti == claims.jti))
            if row is not None and row.user_id == user.id:
                await _revoke_family(session, family_id=row.family_id, now=now)
            elif row is None:
                await session.commit()
                await _record_foreign_refresh_token(session, claims=claims, now=now)
    await session.commit()


async def change_password(
    session: AsyncSession,
    redis: Redis | None,
    settings: Settings,
    *,
    user: User,
    access: TokenClaims,
    current_password: str,
    new_password: str,
) -> None:
    await session.commit()  # no transaction (nor pooled connection) held while hashing
    if not await verify_password(settings, current_password, user.password_hash):
        raise errors.validation_problem("current_password", "The current password is incorrect.")
    password = await hash_password(settings, new_password)
    now = utcnow()
    user.password_hash = password
    # Every access token issued before now is recorded next to its refresh token.
    rows = await session.execute(
        select(RefreshToken.access_jti, RefreshToken.access_expires_at).where(
            RefreshToken.user_id == user.id,
            RefreshToken.access_jti.is_not(None),
            RefreshToken.access_expires_at > now,
        )
    )
    denied = {jti: expires for jti, expires in rows.all() if jti and expires}
    denied.setdefault(access.jti, datetime.fromtimestamp(access.expires_at, now.tzinfo))
    for jti, expires_at in denied.items():
        await deny_access_token(session, redis, jti=jti, expires_at=expires_at)
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await session.commit()


async def ensure_first_admin(
    session: AsyncSession, settings: Settings, *, email: str, password: str
) -> User | None:
    """Create the bootstrap admin unless its email is taken (then leave that account be).
    Idempotent and race-safe: the unique index decides."""
    data = UserCreate(email=email, password=password, name="Admin")
    existing = await get_user_by_email(session, email=data.email)
    if existing is not None:
        return None
    await session.commit()  # no transaction (nor pooled connection) held while hashing
    try:
        return await create_user(session, settings, data=data, is_admin=True)
    except errors.APIProblem:
        return None
