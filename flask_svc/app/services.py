"""User operations shared by the routes and the CLI."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from . import mail, tokens
from .errors import EmailTakenError, IncorrectPasswordError, InvalidLinkTokenError
from .extensions import db
from .models import User
from .security import hash_password, needs_rehash, verify_password
from .throttling import mail_key, reserve_attempt

# Mails a single address may be sent per LOGIN_FAILURE_WINDOW_SECONDS.
MAILS_PER_WINDOW = 3


def _commit_or_conflict() -> None:
    # The unique index decides between concurrent writers, not a pre-check.
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise EmailTakenError from None


# --8<-- [start:create_user]
def create_user(
    *,
    email: str,
    password: str,
    name: str,
    age: int | None = None,
    is_admin: bool = False,
) -> User:
    password_hash = hash_password(password)  # before the transaction: hashing is slow
    user = User(email=email, password_hash=password_hash, name=name, age=age, is_admin=is_admin)
    # Only the operator creates admins (bootstrap, create-admin): they named the address.
    user.email_verified = is_admin
    db.session.add(user)
    _commit_or_conflict()
    if not user.email_verified:
        send_verification_mail(user=user)
    return user
    # --8<-- [end:create_user]


def update_user(*, user: User, changes: dict[str, Any]) -> User:
    """A new address is unverified until the link mailed to it is followed."""
    address = user.email
    for field, value in changes.items():
        setattr(user, field, value)
    if user.email != address:
        user.email_verified = False
    _commit_or_conflict()
    if user.email != address:
        send_verification_mail(user=user)
    return user


def delete_user(*, user: User) -> None:
    # refresh_tokens rows go with it (ON DELETE CASCADE); ids are never reused.
    db.session.delete(user)
    db.session.commit()


def set_user_active(*, user: User, is_active: bool) -> User:
    """Deactivation also ends every session: reactivation brings no old token back."""
    user.is_active = is_active
    if not is_active:
        tokens.revoke_all_for_user(user=user)
    db.session.commit()
    return user


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    """itsdangerous, as Flask signs its own sessions: one salt per kind of link."""
    return URLSafeTimedSerializer(current_app.config["JWT_SECRET_KEY"], salt=f"users.{purpose}")


def _password_state(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:32]


def _email_state(user: User) -> str:
    return hashlib.sha256(f"{user.email}\n{user.email_verified}".encode()).hexdigest()[:32]


def _load_link(purpose: str, token: str, max_age: int) -> tuple[User, str]:
    try:
        user_id, state = _serializer(purpose).loads(token, max_age=max_age)
    except (BadData, TypeError, ValueError):  # SignatureExpired included
        raise InvalidLinkTokenError from None
    user = db.session.get(User, int(user_id))
    if user is None:
        raise InvalidLinkTokenError
    return user, str(state)


def send_verification_mail(*, user: User) -> None:
    token = _serializer("email-verification").dumps([user.id, _email_state(user)])
    mail.send_verification(to=user.email, token=token)


def may_mail(*, email: str) -> bool:
    """Count a mail to this address; False once it had its MAILS_PER_WINDOW."""
    return reserve_attempt(key=mail_key(email), limit=MAILS_PER_WINDOW) is None


def request_password_reset(*, email: str) -> None:
    """Mail a reset link to an active account. Unknown addresses do the same work (the
    count, the lookup), so neither answers sooner."""
    allowed = may_mail(email=email)
    user = db.session.scalar(select(User).where(User.email == email.lower()))
    db.session.commit()
    if user is None or not user.is_active or not allowed:
        return
    token = _serializer("password-reset").dumps([user.id, _password_state(user)])
    mail.send_password_reset(to=user.email, token=token)


def confirm_password_reset(*, token: str, new_password: str) -> None:
    """Single use: the new password changes the state the token was made for."""
    max_age = current_app.config["PASSWORD_RESET_MINUTES"] * 60
    user, state = _load_link("password-reset", token, max_age)
    if not user.is_active or state != _password_state(user):
        raise InvalidLinkTokenError
    db.session.commit()  # no transaction (nor pooled connection) held while hashing
    user.password_hash = hash_password(new_password)
    tokens.revoke_all_for_user(user=user)
    db.session.commit()


def verify_email(*, token: str) -> User:
    max_age = current_app.config["EMAIL_VERIFICATION_HOURS"] * 3600
    user, state = _load_link("email-verification", token, max_age)
    if state != _email_state(user):
        raise InvalidLinkTokenError
    user.email_verified = True
    db.session.commit()
    return user


def change_password(
    *, user: User, access: dict[str, Any], current_password: str, new_password: str
) -> None:
    """Set a new password and revoke every token issued before, this request's included."""
    db.session.commit()  # no transaction (nor pooled connection) held while hashing
    if not verify_password(user.password_hash, current_password):
        raise IncorrectPasswordError
    password_hash = hash_password(new_password)
    user.password_hash = password_hash
    tokens.revoke_all_for_user(user=user, access=access)
    db.session.commit()


# --8<-- [start:authenticate]
def authenticate(*, email: str, password: str) -> User | None:
    """The active user with these credentials; the same work whether or not the email exists."""
    user: User | None = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    # End the read before the slow hash check, so no transaction waits on it.
    db.session.commit()
    valid = verify_password(user.password_hash if user else None, password)
    if user is None or not valid or not user.is_active:
        return None
    if needs_rehash(user.password_hash):
        password_hash = hash_password(password)
        user.password_hash = password_hash
        db.session.add(user)
    return user
    # --8<-- [end:authenticate]


def is_last_active_admin(*, user: User) -> bool:
    """Whether no other active admin would be left without this user."""
    if not (user.is_admin and user.is_active):
        return False
    others = select(func.count()).where(
        User.is_admin.is_(True), User.is_active.is_(True), User.id != user.id
    )
    return not db.session.scalar(others)


def get_user(*, user_id: int) -> User | None:
    return db.session.get(User, user_id)


def list_users(
    *, limit: int, offset: int, search: str | None = None, is_active: bool | None = None
) -> tuple[int, list[User]]:
    query = select(User)
    if search:
        # str.lower() on both sides (SQLite's lower() is registered as Python's).
        pattern = search.lower()
        query = query.where(
            or_(
                func.lower(User.name).contains(pattern, autoescape=True),
                func.lower(User.email).contains(pattern, autoescape=True),
            )
        )
    if is_active is not None:
        query = query.where(User.is_active.is_(is_active))
    count = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    users = db.session.scalars(query.order_by(User.id).limit(limit).offset(offset)).all()
    return count, list(users)


def ensure_first_admin(*, email: str, password: str) -> bool:
    """Create the bootstrap admin unless the email is taken; True when created.

    Safe to run from several processes at once: the unique index decides.
    """
    email = email.lower()
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        return False
    try:
        create_user(email=email, password=password, name="Admin", is_admin=True)
    except EmailTakenError:
        return False
    return True
