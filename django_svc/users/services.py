"""Everything that writes users. Keyword-only, typed functions, with the same names in the
FastAPI and Flask services; token pairs are in `users.tokens`."""

from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate as django_authenticate
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from api.errors import EmailTakenError, IncorrectPasswordError, InvalidLinkTokenError
from users import mail, tokens
from users.managers import normalize_email
from users.models import User
from users.throttling import mail_key, reserve_attempt
from users.tokens import AccessToken

# Mails a single address may be sent per LOGIN_FAILURE_WINDOW_SECONDS.
MAILS_PER_WINDOW = 3
VERIFICATION_SALT = "users.email-verification"


class PasswordResetTokens(PasswordResetTokenGenerator):
    """Django's reset tokens (they die with a password change and after
    PASSWORD_RESET_TIMEOUT), without `last_login`: API logins set it, and a login must
    not void a link already mailed."""

    def _make_hash_value(self, user: Any, timestamp: int) -> str:
        return f"{user.pk}{user.password}{timestamp}{user.email}"


password_reset_tokens = PasswordResetTokens()


# --8<-- [start:create_user]
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
    # --8<-- [end:create_user]


def update_user(*, user: User, changes: dict[str, Any]) -> User:
    """Apply any of `name`, `email`, `age`, `is_admin` (already validated). A new address
    is unverified until the link mailed to it is followed."""
    allowed = {"name", "email", "age", "is_admin"}
    changed = [field for field in changes if field in allowed]
    if not changed:
        return user
    address = user.email
    for field in changed:
        value = changes[field]
        setattr(user, field, normalize_email(value) if field == "email" else value)
    if user.email != address:
        user.email_verified = False
        changed.append("email_verified")
    try:
        with transaction.atomic():
            user.save(update_fields=changed)
            if user.email != address:
                send_verification_mail(user=user)
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


def _verification_signer() -> signing.TimestampSigner:
    # "." between the parts, not ":": the token travels in a link, where any client
    # reads a URL-safe token whole.
    return signing.TimestampSigner(salt=VERIFICATION_SALT, sep=".")


def verification_token(*, user: User) -> str:
    return _verification_signer().sign_object({"user": user.pk, "email": user.email})


def send_verification_mail(*, user: User) -> None:
    mail.send_verification(to=user.email, token=verification_token(user=user))


def may_mail(*, email: str) -> bool:
    """Count a mail to this address; False once it had its MAILS_PER_WINDOW."""
    return reserve_attempt(key=mail_key(email), limit=MAILS_PER_WINDOW) is None


def request_password_reset(*, email: str) -> None:
    """Mail a reset link to an active account. Unknown addresses do the same work (the
    count, the lookup), so neither answers sooner."""
    allowed = may_mail(email=email)
    user = User.objects.filter(email=normalize_email(email), is_active=True).first()
    if user is None or not allowed:
        return
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    mail.send_password_reset(to=user.email, token=f"{uid}.{password_reset_tokens.make_token(user)}")


def _user_of_reset_token(token: str) -> User:
    uid, _, reset = token.partition(".")
    try:
        pk = int(urlsafe_base64_decode(uid).decode())
    except (ValueError, UnicodeDecodeError):
        raise InvalidLinkTokenError from None
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None or not password_reset_tokens.check_token(user, reset):
        raise InvalidLinkTokenError
    return user


def confirm_password_reset(*, token: str, new_password: str) -> None:
    """Single use: the new password changes what the token was made from."""
    user = _user_of_reset_token(token)
    user.set_password(new_password)
    with transaction.atomic():
        user.save(update_fields=["password"])
        tokens.revoke_all_for_user(user=user, access=None)


def verify_email(*, token: str) -> User:
    max_age = settings.EMAIL_VERIFICATION_HOURS * 3600
    try:
        claims = _verification_signer().unsign_object(token, max_age=max_age)
    except signing.BadSignature:  # SignatureExpired included
        raise InvalidLinkTokenError from None
    user = User.objects.filter(pk=claims.get("user")).first()
    if user is None or user.email != claims.get("email") or user.email_verified:
        raise InvalidLinkTokenError
    user.email_verified = True
    user.save(update_fields=["email_verified"])
    return user


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


# --8<-- [start:authenticate]
def authenticate(*, email: str, password: str) -> User | None:
    """Django's `ModelBackend`: hashes a dummy password for unknown emails and
    checks the password of inactive users before refusing them, so all three
    failures cost the same."""
    user = django_authenticate(None, username=email.strip(), password=password)
    return user if isinstance(user, User) else None
    # --8<-- [end:authenticate]
