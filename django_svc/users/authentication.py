"""Bearer-token authentication: simplejwt's, plus what the contract adds.

- The scheme is case-insensitive (`bearer x`), and any `Authorization`
  header that is not a usable bearer token is a rejected token (401 with
  `error="invalid_token"`), not an anonymous request.
- The access token's `jti` is checked against the deny-list (logout,
  password change); simplejwt's blacklist covers refresh tokens only.
- The user is read from the database on every request, so a deleted or
  deactivated user's tokens, and a demoted admin's rights, stop at once.
"""

import re
from typing import Any

from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import TokenError

from api.errors import INVALID_TOKEN
from users.models import User
from users.revocation import user_for_access_token
from users.tokens import AccessToken

# RFC 6750: the scheme (in any case), one space, a b64token; nothing else.
BEARER = re.compile(r"bearer ([A-Za-z0-9._~+/-]+=*)", re.IGNORECASE)


class BearerTokenAuthentication(JWTAuthentication):
    def authenticate(self, request: Request) -> tuple[User, AccessToken] | None:  # type: ignore[override]
        header = request.META.get("HTTP_AUTHORIZATION")
        if header is None:
            return None
        # Two headers arrive joined by a comma, which no token holds.
        match = BEARER.fullmatch(header)
        if match is None:
            raise AuthenticationFailed(INVALID_TOKEN)
        try:
            token = AccessToken(match.group(1))  # type: ignore[arg-type]
        except TokenError as exc:
            raise AuthenticationFailed(INVALID_TOKEN) from exc
        user = user_for_access_token(user_id=token.user_id, jti=token.jti)
        if user is None:
            raise AuthenticationFailed(INVALID_TOKEN)
        return user, token

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403); the error handler adds
        # `error="invalid_token"` when a token was sent.
        return "Bearer"


def bearer_token(request: Request) -> AccessToken:
    """The validated access token of an authenticated request."""
    token: Any = request.auth
    assert isinstance(token, AccessToken)
    return token
