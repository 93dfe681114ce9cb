"""Business operations. Keyword-only, typed; the same names in the three services."""

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors, tokens
from app.config import Settings
from app.models import User, utcnow
from app.schemas import UserCreate
from app.security import TokenClaims, hash_password, verify_password

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
        raise errors.EmailTakenError from None
    return user


async def is_last_active_admin(session: AsyncSession, *, user: User) -> bool:
    """Whether no other active admin would be left without this user."""
    if not (user.is_admin and user.is_active):
        return False
    others = select(func.count()).where(
        User.is_admin.is_(True), User.is_active.is_(True), User.id != user.id
    )
    return not await session.scalar(others)


async def update_user(session: AsyncSession, *, user: User, changes: dict[str, Any]) -> User:
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
