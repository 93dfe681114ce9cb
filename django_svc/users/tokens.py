"""Token pairs: simplejwt's tokens made strict, and issuing, rotating and revoking pairs.

simplejwt already issues `sub` (string id), `type`, `jti`, `iat` and `exp`
with the settings in `SIMPLE_JWT`. What it lacks is added here:

- every claim the contract requires is required on decode (PyJWT's
  `require`), `iat`/`nbf` in the future are rejected (no leeway), `sub`
  must be a decimal string and `jti` a string of 1 to 64 characters;
- access tokens are checked against the deny-list on every use
  (simplejwt's blacklist app covers refresh tokens only).
"""

import re
import uuid
from datetime import datetime
from typing import Any, TypedDict, cast

import jwt
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Min, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import (
    TokenBackendError,
    TokenBackendExpiredToken,
    TokenError,
)
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken as SimpleAccessToken
from rest_framework_simplejwt.tokens import RefreshToken as SimpleRefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from api.errors import InvalidTokenError
from users import revocation
from users.models import RefreshToken as RefreshTokenRecord
from users.models import User

REQUIRED_CLAIMS = ("exp", "iat", "sub", "type", "jti", "iss")
# The contract's one reading of a token: canonical decimal ids, printable-ASCII jtis,
# times that fit a date.
SUBJECT = re.compile(r"[1-9][0-9]{0,18}")
JTI = re.compile(r"[\x21-\x7e]{1,64}")
MAX_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z

# A session id is its family id (a UUID); anything else names no session, and never
# reaches the database (a NUL in a path would not survive PostgreSQL).
SESSION_ID = re.compile(r"[0-9a-f-]{1,64}")


class StrictTokenBackend(TokenBackend):
    """HS256 only, every shared claim required, no leeway."""

    def decode(self, token: Any, verify: bool = True) -> dict[str, Any]:
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                self.get_verifying_key(token),
                algorithms=[self.algorithm],
                issuer=self.issuer,
                leeway=self.get_leeway(),
                options={
                    "verify_signature": verify,
                    "require": list(REQUIRED_CLAIMS),
                    "verify_aud": False,
                },
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenBackendExpiredToken(_("Token is expired")) from exc
        except (jwt.InvalidTokenError, ValueError, TypeError, OverflowError) as exc:
            raise TokenBackendError(_("Token is invalid")) from exc
        return payload


token_backend = StrictTokenBackend(
    api_settings.ALGORITHM,
    api_settings.SIGNING_KEY,
    issuer=api_settings.ISSUER,
    leeway=api_settings.LEEWAY,
)


class StrictClaimsMixin:
    payload: dict[str, Any]

    def get_token_backend(self) -> TokenBackend:
        return token_backend

    def set_jti(self) -> None:
        self.payload[api_settings.JTI_CLAIM] = str(uuid.uuid4())  # simplejwt uses .hex

    def verify(self) -> None:
        # Types first: simplejwt's own checks assume an integer `exp` that fits a date.
        for claim in ("exp", "iat", "nbf"):
            value = self.payload.get(claim, 0)
            if type(value) is not int or value > MAX_TIMESTAMP:
                raise TokenError(_("Token is invalid"))
        super().verify()  # type: ignore[misc]  # exp, jti present, type matches
        sub, jti = self.payload["sub"], self.payload["jti"]
        if not (isinstance(sub, str) and SUBJECT.fullmatch(sub) and int(sub) < 2**63):
            raise TokenError(_("Token is invalid"))
        if not (isinstance(jti, str) and JTI.fullmatch(jti)):
            raise TokenError(_("Token is invalid"))

    @property
    def user_id(self) -> int:
        return int(self.payload["sub"])

    @property
    def jti(self) -> str:
        return str(self.payload[api_settings.JTI_CLAIM])

    @property
    def expires_at(self) -> datetime:
        return datetime_from_epoch(self.payload["exp"])


class AccessToken(StrictClaimsMixin, SimpleAccessToken):
    pass


class RefreshToken(StrictClaimsMixin, SimpleRefreshToken):  # type: ignore[misc]
    access_token_class = AccessToken


class TokenPair(TypedDict):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


def issue_token_pair(
    *,
    user: User,
    family_id: str | None = None,
    user_agent: str | None = None,
    ip: str | None = None,
) -> TokenPair:
    """A login's pair (a new family), or a rotation's (its family, its login's agent)."""
    refresh = cast(RefreshToken, RefreshToken.for_user(user))
    access = cast(AccessToken, refresh.access_token)
    RefreshTokenRecord.objects.create(
        jti=refresh.jti,
        user=user,
        family_id=family_id or uuid.uuid4().hex,
        access_jti=access.jti,
        access_expires_at=access.expires_at,
        expires_at=refresh.expires_at,
        user_agent=user_agent[:255] if user_agent else None,
        ip=ip,
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


# --8<-- [start:rotate]
def rotate_refresh_token(*, token: str) -> TokenPair:
    """Exactly one caller wins a given refresh token; a second use revokes its family.

    simplejwt's own rotation checks its blacklist, then `get_or_create`s the
    entry, so concurrent refreshes all succeed; here a conditional UPDATE
    (or, for a token with no row yet, a unique INSERT) decides.
    """
    refresh = _decode_refresh(token)
    if refresh is None:
        raise InvalidTokenError
    now = timezone.now()
    pair: TokenPair | None = None
    with transaction.atomic():
        # The user's row stays locked until this rotation commits (PostgreSQL; SQLite has
        # one writer anyway): a reuse revoking the family, a password change or a
        # deactivation waits for it, and then revokes the token issued here too.
        user = User.objects.select_for_update().filter(pk=refresh.user_id, is_active=True).first()
        if user is None:
            raise InvalidTokenError
        record = RefreshTokenRecord.objects.filter(jti=refresh.jti).first()
        if record is None:
            # Issued by another service sharing the secret: record it as used,
            # and start a new family. The unique jti decides a race.
            family_id = uuid.uuid4().hex
            try:
                with transaction.atomic():
                    RefreshTokenRecord.objects.create(
                        jti=refresh.jti,
                        user=user,
                        family_id=family_id,
                        access_jti="",
                        access_expires_at=now,
                        expires_at=refresh.expires_at,
                        revoked_at=now,
                    )
            except IntegrityError:
                family_id = ""
        else:
            won = RefreshTokenRecord.objects.filter(
                jti=refresh.jti, user=user, revoked_at__isnull=True
            ).update(revoked_at=now)
            family_id = record.family_id if won == 1 else ""
            if won != 1:
                _revoke_family(family_id=record.family_id, now=now)
        if family_id:
            agent, ip = (record.user_agent, record.ip) if record else (None, None)
            pair = issue_token_pair(user=user, family_id=family_id, user_agent=agent, ip=ip)
    if pair is None:
        raise InvalidTokenError
    return pair
    # --8<-- [end:rotate]


def revoke_tokens(*, user: User, access: AccessToken, refresh_token: str | None) -> None:
    """Logout: the presented access token and, when it is the caller's, the refresh
    token's family. Anything else sent as a refresh token is silently ignored."""
    revocation.deny_access_tokens({access.jti: access.expires_at})
    if not refresh_token:
        return
    refresh = _decode_refresh(refresh_token)
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


def revoke_all_for_user(*, user: User, access: AccessToken | None) -> None:
    """Every refresh token of the user, every access token issued with one (each is
    recorded beside its refresh token), and the presented one. Runs in a transaction."""
    # Lock the user's row first: a rotation in flight (which holds it) finishes, and
    # its new token is revoked here too.
    list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk"))
    now = timezone.now()
    live = RefreshTokenRecord.objects.filter(user=user, access_expires_at__gt=now)
    denied = dict(live.values_list("access_jti", "access_expires_at"))
    if access is not None:
        denied[access.jti] = access.expires_at
    revocation.deny_access_tokens(denied)
    RefreshTokenRecord.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)


class Session(TypedDict):
    id: str
    created_at: datetime
    last_used_at: datetime
    user_agent: str | None
    ip: str | None
    current: bool


def list_sessions(*, user: User, access: AccessToken) -> list[Session]:
    """One entry per family with a live refresh token, newest login first."""
    now = timezone.now()
    families = (
        RefreshTokenRecord.objects.filter(user=user)
        .values("family_id")
        .annotate(
            started=Min("created_at"),
            last_used_at=Max("created_at"),
            agent=Max("user_agent"),
            address=Max("ip"),
            live=Count("id", filter=Q(revoked_at__isnull=True, expires_at__gt=now)),
            current=Count("id", filter=Q(access_jti=access.jti)),
        )
        .filter(live__gt=0)
        .order_by("-started", "family_id")
    )
    return [
        {
            "id": row["family_id"],
            "created_at": row["started"],
            "last_used_at": row["last_used_at"],
            "user_agent": row["agent"],
            "ip": row["address"],
            "current": row["current"] > 0,
        }
        for row in families
    ]


@transaction.atomic
def end_session(*, user: User, session_id: str) -> bool:
    """Revoke one of the user's live families and deny its access tokens; False when the
    user has no such live login."""
    if not SESSION_ID.fullmatch(session_id):
        return False
    now = timezone.now()
    family = RefreshTokenRecord.objects.filter(user=user, family_id=session_id)
    if not family.filter(revoked_at__isnull=True, expires_at__gt=now).update(revoked_at=now):
        return False
    live = family.filter(access_expires_at__gt=now).exclude(access_jti="")
    revocation.deny_access_tokens(dict(live.values_list("access_jti", "access_expires_at")))
    return True
