"""Service functions against a real SQLite database."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors, services, tokens
from app.config import Settings
from app.models import LoginFailure, RefreshToken, RevokedToken, User, utcnow
from app.revocation import deny_access_token, user_for_access_token
from app.schemas import UserCreate
from app.security import decode_token
from app.throttling import release_attempt, reserve_attempt, throttle_key

from .helpers import PASSWORD, unique_email


async def _denied(session: AsyncSession, user: User, jti: str) -> bool:
    return await user_for_access_token(session, None, user_id=user.id, jti=jti) is None


async def _user(session: AsyncSession, settings: Settings, email: str | None = None) -> User:
    data = UserCreate(email=email or unique_email(), password=PASSWORD, name="Ada")
    return await services.create_user(session, settings, data=data)


async def test_create_user_lowercases_and_refuses_duplicates(
    session: AsyncSession, settings: Settings
) -> None:
    user = await _user(session, settings, "Mixed.Case@Example.COM")
    assert user.email == "mixed.case@example.com"
    with pytest.raises(errors.EmailTakenError):
        await _user(session, settings, "MIXED.case@example.com")


async def test_ids_are_never_reused(session: AsyncSession, settings: Settings) -> None:
    first = await _user(session, settings)
    await services.delete_user(session, user=first)
    second = await _user(session, settings)
    assert second.id > first.id


async def test_authenticate(session: AsyncSession, settings: Settings) -> None:
    user = await _user(session, settings)
    found = await services.authenticate(
        session, settings, email=user.email.upper(), password=PASSWORD
    )
    assert found is not None
    assert found.id == user.id
    assert (
        await services.authenticate(session, settings, email=user.email, password="wrong") is None
    )
    assert (
        await services.authenticate(session, settings, email="no@one.io", password=PASSWORD) is None
    )
    await services.set_user_active(session, None, user=user, is_active=False)
    assert (
        await services.authenticate(session, settings, email=user.email, password=PASSWORD) is None
    )


async def test_rotation_and_reuse_revokes_the_family(
    session: AsyncSession, settings: Settings
) -> None:
    user = await _user(session, settings)
    first = await tokens.issue_token_pair(session, settings, user=user)
    second = await tokens.rotate_refresh_token(session, settings, token=first.refresh_token)
    with pytest.raises(errors.InvalidTokenError):
        await tokens.rotate_refresh_token(session, settings, token=first.refresh_token)
    with pytest.raises(errors.InvalidTokenError):
        await tokens.rotate_refresh_token(session, settings, token=second.refresh_token)
    live = await session.scalar(
        select(func.count()).select_from(RefreshToken).where(RefreshToken.revoked_at.is_(None))
    )
    assert live == 0


async def test_unknown_valid_refresh_token_starts_a_new_family(
    session: AsyncSession, settings: Settings
) -> None:
    user = await _user(session, settings)
    pair = await tokens.issue_token_pair(session, settings, user=user)
    claims = decode_token(settings, pair.refresh_token, expected_type="refresh")
    # As if another service with the same secret had issued it: no row.
    row = await session.scalar(select(RefreshToken).where(RefreshToken.jti == claims.jti))
    assert row is not None
    await session.delete(row)
    await session.commit()
    await tokens.rotate_refresh_token(session, settings, token=pair.refresh_token)
    with pytest.raises(errors.InvalidTokenError):
        await tokens.rotate_refresh_token(session, settings, token=pair.refresh_token)


async def test_logout_ignores_someone_elses_refresh_token(
    session: AsyncSession, settings: Settings
) -> None:
    alice, bob = await _user(session, settings), await _user(session, settings)
    alice_pair = await tokens.issue_token_pair(session, settings, user=alice)
    bob_pair = await tokens.issue_token_pair(session, settings, user=bob)
    access = decode_token(settings, alice_pair.access_token, expected_type="access")
    await tokens.revoke_tokens(
        session, None, settings, user=alice, access=access, refresh_token=bob_pair.refresh_token
    )
    assert await _denied(session, alice, access.jti)
    await tokens.rotate_refresh_token(session, settings, token=bob_pair.refresh_token)


async def test_change_password_revokes_earlier_tokens(
    session: AsyncSession, settings: Settings
) -> None:
    user = await _user(session, settings)
    old = await tokens.issue_token_pair(session, settings, user=user)
    other = await tokens.issue_token_pair(session, settings, user=user)
    access = decode_token(settings, old.access_token, expected_type="access")
    with pytest.raises(errors.IncorrectPasswordError):
        await services.change_password(
            session,
            None,
            settings,
            user=user,
            access=access,
            current_password="wrong",
            new_password="new password 1",
        )
    await services.change_password(
        session,
        None,
        settings,
        user=user,
        access=access,
        current_password=PASSWORD,
        new_password="new password 1",
    )
    other_access = decode_token(settings, other.access_token, expected_type="access")
    assert await _denied(session, user, access.jti)
    assert await _denied(session, user, other_access.jti)
    with pytest.raises(errors.InvalidTokenError):
        await tokens.rotate_refresh_token(session, settings, token=other.refresh_token)
    assert await services.authenticate(
        session, settings, email=user.email, password="new password 1"
    )


async def test_deny_access_token_begins_its_own_write(session: AsyncSession) -> None:
    # Called outside a change, it must not write in the read transaction (or autocommit).
    await deny_access_token(session, None, jti="a-jti", expires_at=utcnow() + timedelta(minutes=1))
    await session.commit()
    assert await session.get(RevokedToken, "a-jti") is not None


async def test_ensure_first_admin_is_idempotent(session: AsyncSession, settings: Settings) -> None:
    email = unique_email()
    admin = await services.ensure_first_admin(session, settings, email=email, password=PASSWORD)
    assert admin is not None
    assert admin.is_admin
    assert admin.name == "Admin"
    again = await services.ensure_first_admin(session, settings, email=email, password="other pass")
    assert again is None


async def test_throttling_fixed_window(session: AsyncSession, settings: Settings) -> None:
    key = throttle_key("127.0.0.1", "  Someone@Example.com ")
    assert key == throttle_key("127.0.0.1", "someone@example.com")
    assert key != throttle_key("127.0.0.2", "someone@example.com")
    for _ in range(settings.login_max_failures):
        assert await reserve_attempt(session, None, settings, key=key) is None
    await release_attempt(session, None, settings, key=key)  # a success does not count
    assert await reserve_attempt(session, None, settings, key=key) is None
    retry = await reserve_attempt(session, None, settings, key=key)
    assert retry is not None
    assert 1 <= retry <= settings.login_failure_window_seconds
    row = await session.get(LoginFailure, key, populate_existing=True)
    assert row is not None
    assert row.failures == settings.login_max_failures + 1
