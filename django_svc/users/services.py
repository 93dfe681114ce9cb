"""Everything that writes users. Keyword-only, typed functions, with the same names in the
FastAPI and Flask services; token pairs are in `users.tokens`."""

from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate as django_authenticate
from django.db import IntegrityError, transaction

from api.errors import EmailTakenError, IncorrectPasswordError
from users import tokens
from users.managers import normalize_email
from users.models import User
from users.tokens import AccessToken


def create_user(*, email: str, password: str, name: str, age: int | None = None) -> User:
    user = User(email=normalize_email(email), name=name, age=age)
    user.set_password(password)  # hashed before the write transaction starts
    try:
        with transaction.atomic():
            user.save(force_insert=True)
    except IntegrityError as exc:
        # The unique index decides between concurrent registrations.
        raise EmailTakenError from exc
    return user


def update_user(*, user: User, changes: dict[str, Any]) -> User:
    """Apply any of `name`, `email`, `age`, `is_admin` (already validated)."""
    allowed = {"name", "email", "age", "is_admin"}
    changed = [field for field in changes if field in allowed]
    if not changed:
        return user
    for field in changed:
        value = changes[field]
        setattr(user, field, normalize_email(value) if field == "email" else value)
    try:
        with transaction.atomic():
            user.save(update_fields=changed)
    except IntegrityError as exc:
        raise EmailTakenError from exc
    return user


def delete_user(*, user: User) -> None:
    # Its refresh rows go with it (ON DELETE CASCADE); its access tokens fail
    # the user lookup, and ids are never reused.
    user.delete()


def set_user_active(*, user: User, is_active: bool) -> User:
    """Deactivation also ends every session: reactivation brings no old token back."""
    with transaction.atomic():
        if user.is_active != is_active:
            user.is_active = is_active
            user.save(update_fields=["is_active"])
        if not is_active:
            tokens.revoke_all_for_user(user=user, access=None)
    return user


def change_password(
    *, user: User, access: AccessToken | None, current_password: str, new_password: str
) -> None:
    if not user.check_password(current_password):
        raise IncorrectPasswordError
    user.set_password(new_password)
    with transaction.atomic():
        user.save(update_fields=["password"])
        tokens.revoke_all_for_user(user=user, access=access)


def ensure_first_admin() -> User | None:
    """The `FIRST_ADMIN_*` admin exists afterwards; an existing account is left as it is."""
    email, password = settings.FIRST_ADMIN_EMAIL, settings.FIRST_ADMIN_PASSWORD
    if not email or not password:
        return None
    email = normalize_email(email)
    existing = User.objects.filter(email=email).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return User.objects.create_superuser(email=email, password=password, name="Admin")
    except IntegrityError:  # another process created it first
        return User.objects.filter(email=email).first()


def authenticate(*, email: str, password: str) -> User | None:
    """Django's `ModelBackend`: hashes a dummy password for unknown emails and
    checks the password of inactive users before refusing them, so all three
    failures cost the same."""
    user = django_authenticate(None, username=email.strip(), password=password)
    return user if isinstance(user, User) else None
