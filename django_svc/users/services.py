"""Everything that writes: users, tokens, revocation. Keyword-only, typed functions.

The same function names appear in the FastAPI and Flask services.
"""

import uuid
from datetime import datetime
from typing import Any, TypedDict, cast

from django.conf import settings
from django.contrib.auth import authenticate as django_authenticate
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError

from config.errors import EMAIL_TAKEN, INVALID_TOKEN, ProblemError, UnprocessableError
from users import revocation
from users.managers import normalize_email
from users.models import RefreshToken as RefreshTokenRecord
from users.models import User
from users.tokens import AccessToken, RefreshToken


class TokenPair(TypedDict):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


def _invalid_token() -> ProblemError:
    return ProblemError(401, INVALID_TOKEN, {"WWW-Authenticate": 'Bearer error="invalid_token"'})


# --- users -------------------------------------------------------------------


def create_user(*, email: str, password: str, name: str, age: int | None = None) -> User:
    user = User(email=normalize_email(email), name=name, age=age)
    user.set_password(password)  # hashed before the write transaction starts
    try:
        with transaction.atomic():
            user.save(force_insert=True)
    except IntegrityError as exc:
        # The unique index decides between concurrent registrations.
        raise ProblemError(409, EMAIL_TAKEN) from exc
    return user


def update_user(*, user: User, data: dict[str, Any]) -> User:
    """Apply any of `name`, `email`, `age`, `is_admin` (already validated)."""
    allowed = {"name", "email", "age", "is_admin"}
    changed = [field for field in data if field in allowed]
    if not changed:
        return user
    for field in changed:
        value = data[field]
        setattr(user, field, normalize_email(value) if field == "email" else value)
    try:
        with transaction.atomic():
            user.save(update_fields=changed)
    except IntegrityError as exc:
        raise ProblemError(409, EMAIL_TAKEN) from exc
    return user


def delete_user(*, user: User) -> None:
    # Its refresh rows go with it (ON DELETE CASCADE); its access tokens fail
    # the user lookup, and ids are never reused.
    user.delete()


def set_user_active(*, user: User, is_active: bool) -> User:
    if user.is_active != is_active:
        user.is_active = is_active
        user.save(update_fields=["is_active"])
    return user


def change_password(
    *, user: User, current_password: str, new_password: str, access_token: AccessToken | None
) -> None:
    if not user.check_password(current_password):
        raise UnprocessableError("current_password", "The current password is incorrect.")
    user.set_password(new_password)
    now = timezone.now()
    with transaction.atomic():
        user.save(update_fields=["password"])
        live = RefreshTokenRecord.objects.filter(user=user, access_expires_at__gt=now)
        denied = dict(live.values_list("access_jti", "access_expires_at"))
        if access_token is not None:
            denied[access_token.jti] = access_token.expires_at
        revocation.deny_access_tokens(denied)
        RefreshTokenRecord.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)


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


# --- login and tokens ----------------------------------------------------------


def authenticate(*, email: str, password: str) -> User | None:
    """Django's `ModelBackend`: hashes a dummy password for unknown emails and
    checks the password of inactive users before refusing them, so all three
    failures cost the same."""
    user = django_authenticate(None, username=email.strip(), password=password)
    return user if isinstance(user, User) else None


def issue_token_pair(*, user: User, family_id: str | None = None) -> TokenPair:
    refresh = cast(RefreshToken, RefreshToken.for_user(user))
    access = cast(AccessToken, refresh.access_token)
    RefreshTokenRecord.objects.create(
        jti=refresh.jti,
        user=user,
        family_id=family_id or uuid.uuid4().hex,
        access_jti=access.jti,
        access_expires_at=access.expires_at,
        expires_at=refresh.expires_at,
    )
    return {
        "access_token": str(access),
        "refresh_token": str(refresh),
        "token_type": "bearer",
        "expires_in": settings.ACCESS_TOKEN_MINUTES * 60,
    }


def _decode_refresh(raw: str) -> RefreshToken | None:
    try:
        return RefreshToken(raw)  # type: ignore[arg-type]
    except TokenError:
        return None


def _revoke_family(*, family_id: str, now: datetime) -> None:
    RefreshTokenRecord.objects.filter(family_id=family_id, revoked_at__isnull=True).update(
        revoked_at=now
    )


def rotate_refresh_token(*, raw_token: str) -> TokenPair:
    """Exactly one caller wins a given refresh token; a second use revokes its family.

    simplejwt's own rotation checks its blacklist, then `get_or_create`s the
    entry, so concurrent refreshes all succeed; here a conditional UPDATE
    (or, for a token with no row yet, a unique INSERT) decides.
    """
    token = _decode_refresh(raw_token)
    if token is None:
        raise _invalid_token()
    user = User.objects.filter(pk=token.user_id, is_active=True).first()
    if user is None:
        raise _invalid_token()
    now = timezone.now()
    pair: TokenPair | None = None
    with transaction.atomic():
        record = RefreshTokenRecord.objects.filter(jti=token.jti).first()
        if record is None:
            # Issued by another service sharing the secret: record it as used,
            # and start a new family. The unique jti decides a race.
            family_id = uuid.uuid4().hex
            try:
                with transaction.atomic():
                    RefreshTokenRecord.objects.create(
                        jti=token.jti,
                        user=user,
                        family_id=family_id,
                        access_jti="",
                        access_expires_at=now,
                        expires_at=token.expires_at,
                        revoked_at=now,
                    )
            except IntegrityError:
                family_id = ""
        else:
            won = RefreshTokenRecord.objects.filter(
                jti=token.jti, user=user, revoked_at__isnull=True
            ).update(revoked_at=now)
            family_id = record.family_id if won == 1 else ""
            if won != 1:
                _revoke_family(family_id=record.family_id, now=now)
        if family_id:
            pair = issue_token_pair(user=user, family_id=family_id)
    if pair is None:
        raise _invalid_token()
    return pair


def revoke_tokens(*, user: User, access_token: AccessToken, raw_refresh_token: str | None) -> None:
    """Logout: the presented access token and, when it is the caller's, the refresh
    token's family. Anything else sent as a refresh token is silently ignored."""
    revocation.deny_access_tokens({access_token.jti: access_token.expires_at})
    if not raw_refresh_token:
        return
    refresh = _decode_refresh(raw_refresh_token)
    if refresh is None or refresh.user_id != user.pk:
        return
    now = timezone.now()
    record = RefreshTokenRecord.objects.filter(jti=refresh.jti, user=user).first()
    if record is not None:
        _revoke_family(family_id=record.family_id, now=now)
        return
    try:
        with transaction.atomic():
            RefreshTokenRecord.objects.create(
                jti=refresh.jti,
                user=user,
                family_id=uuid.uuid4().hex,
                access_jti="",
                access_expires_at=now,
                expires_at=refresh.expires_at,
                revoked_at=now,
            )
    except IntegrityError:
        pass  # recorded meanwhile (and so already used or revoked)
