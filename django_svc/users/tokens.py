"""simplejwt's tokens, configured to the shared token shape and made strict.

simplejwt already issues `sub` (string id), `type`, `jti`, `iat` and `exp`
with the settings in `SIMPLE_JWT`. What it lacks is added here:

- every claim the contract requires is required on decode (PyJWT's
  `require`), `iat`/`nbf` in the future are rejected (no leeway), `sub`
  must be a decimal string and `jti` a string of 1 to 64 characters;
- access tokens are checked against the deny-list on every use
  (simplejwt's blacklist app covers refresh tokens only).
"""

import uuid
from datetime import datetime
from typing import Any

import jwt
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

REQUIRED_CLAIMS = ("exp", "iat", "sub", "type", "jti")
MAX_USER_ID = 2**63 - 1


class StrictTokenBackend(TokenBackend):
    """HS256 only, every shared claim required, no leeway."""

    def decode(self, token: Any, verify: bool = True) -> dict[str, Any]:
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                self.get_verifying_key(token),
                algorithms=[self.algorithm],
                leeway=self.get_leeway(),
                options={
                    "verify_signature": verify,
                    "require": list(REQUIRED_CLAIMS),
                    "verify_aud": False,
                },
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenBackendExpiredToken(_("Token is expired")) from exc
        except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
            raise TokenBackendError(_("Token is invalid")) from exc
        return payload


token_backend = StrictTokenBackend(
    api_settings.ALGORITHM,
    api_settings.SIGNING_KEY,
    leeway=api_settings.LEEWAY,
)


class StrictClaimsMixin:
    payload: dict[str, Any]

    def get_token_backend(self) -> TokenBackend:
        return token_backend

    def set_jti(self) -> None:
        self.payload[api_settings.JTI_CLAIM] = str(uuid.uuid4())  # simplejwt uses .hex

    def verify(self) -> None:
        # Types first: simplejwt's own checks assume an integer `exp`.
        for claim in ("exp", "iat"):
            if type(self.payload[claim]) is not int:
                raise TokenError(_("Token is invalid"))
        super().verify()  # type: ignore[misc]  # exp, jti present, type matches
        sub = self.payload["sub"]
        if not (isinstance(sub, str) and sub.isascii() and sub.isdigit() and len(sub) <= 19):
            raise TokenError(_("Token is invalid"))
        if not 1 <= int(sub) <= MAX_USER_ID:
            raise TokenError(_("Token is invalid"))
        jti = self.payload["jti"]
        if not (isinstance(jti, str) and 1 <= len(jti) <= 64):
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
