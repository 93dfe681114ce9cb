"""Business operations. Keyword-only, typed; the same names in the three services."""

import hashlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors, tokens
from app.config import Settings
from app.models import User, utcnow
from app.schemas import UserCreate
from app.security import (
    TokenClaims,
    decode_link_token,
    encode_link_token,
    hash_password,
    verify_password,
)
from app.throttling import mail_key, reserve_attempt

# Mails a single address may be sent per LOGIN_FAILURE_WINDOW_SECONDS.
MAILS_PER_WINDOW = 3

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


# --8<-- [start:create_user]
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
        # Only the operator creates admins (bootstrap, create-admin): they named the address.
        email_verified=is_admin,
        created_at=utcnow(),
    )
    session.add(user)
    try:
        # The unique index decides races on one email, not a pre-check.
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise errors.EmailTakenError from None
    return user
    # --8<-- [end:create_user]


async def is_last_active_admin(session: AsyncSession, *, user: User) -> bool:
    """Whether no other active admin would be left without this user."""
    if not (user.is_admin and user.is_active):
        return False
    others = select(func.count()).where(
        User.is_admin.is_(True), User.is_active.is_(True), User.id != user.id
    )
    return not await session.scalar(others)


async def update_user(session: AsyncSession, *, user: User, changes: dict[str, Any]) -> User:
    """A new address is unverified until the link mailed to it is followed."""
    if "email" in changes and changes["email"] != user.email:
        user.email_verified = False
    for field, value in changes.items():
        setattr(user, field, value)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise errors.EmailTakenError from None
    return user


async def delete_user(session: AsyncSession, *, user: User) -> None:
    # refresh_tokens rows go with it (ON DELETE CASCADE); its tokens then name no user.
    await session.delete(user)
    await session.commit()


async def set_user_active(
    session: AsyncSession, redis: Redis | None, *, user: User, is_active: bool
) -> User:
    """Deactivation also ends every session: reactivation brings no old token back."""
    user.is_active = is_active
    if not is_active:
        await tokens.revoke_all_for_user(session, redis, user=user, access=None)
    await session.commit()
    return user


# --8<-- [start:authenticate]
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
    # --8<-- [end:authenticate]


def _password_state(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:32]


def _email_state(user: User) -> str:
    return hashlib.sha256(f"{user.email}\n{user.email_verified}".encode()).hexdigest()[:32]


def verification_token(settings: Settings, *, user: User) -> str:
    return encode_link_token(
        settings,
        purpose="email-verification",
        user_id=user.id,
        state=_email_state(user),
        lifetime=timedelta(hours=settings.email_verification_hours),
    )


async def may_mail(
    session: AsyncSession, redis: Redis | None, settings: Settings, *, email: str
) -> bool:
    """Count a mail to this address; False once it had its MAILS_PER_WINDOW."""
    key = mail_key(email)
    return await reserve_attempt(session, redis, settings, key=key, limit=MAILS_PER_WINDOW) is None


async def request_password_reset(
    session: AsyncSession, redis: Redis | None, settings: Settings, *, email: str
) -> tuple[User, str] | None:
    """The user and a reset token to mail, or None: unknown or inactive, or the address
    had its mails. Both paths do the same work, so neither answers sooner."""
    allowed = await may_mail(session, redis, settings, email=email)
    user = await get_user_by_email(session, email=email)
    await session.commit()
    if user is None or not user.is_active or not allowed:
        return None
    token = encode_link_token(
        settings,
        purpose="password-reset",
        user_id=user.id,
        state=_password_state(user),
        lifetime=timedelta(minutes=settings.password_reset_minutes),
    )
    return user, token


async def confirm_password_reset(
    session: AsyncSession, redis: Redis | None, settings: Settings, *, token: str, new_password: str
) -> None:
    """Single use: the new password changes the state the token was made for."""
    user_id, state = decode_link_token(settings, token, purpose="password-reset")
    user = await get_user(session, user_id=user_id)
    if user is None or not user.is_active or state != _password_state(user):
        raise errors.InvalidLinkTokenError
    await session.commit()  # no transaction (nor pooled connection) held while hashing
    user.password_hash = await hash_password(settings, new_password)
    await tokens.revoke_all_for_user(session, redis, user=user, access=None)
    await session.commit()


async def verify_email(session: AsyncSession, settings: Settings, *, token: str) -> User:
    user_id, state = decode_link_token(settings, token, purpose="email-verification")
    user = await get_user(session, user_id=user_id)
    if user is None or state != _email_state(user):
        raise errors.InvalidLinkTokenError
    user.email_verified = True
    await session.commit()
    return user


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
        raise errors.IncorrectPasswordError
    user.password_hash = await hash_password(settings, new_password)
    await tokens.revoke_all_for_user(session, redis, user=user, access=access)
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
    except errors.EmailTakenError:
        return None
