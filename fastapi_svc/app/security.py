"""Password hashing (argon2id) and JWT encoding/decoding (HS256 only)."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from starlette.concurrency import run_in_threadpool

from app import errors
from app.config import Settings

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "type", "jti"]
MAX_JTI_LENGTH = 64

TokenType = Literal["access", "refresh"]


@lru_cache
def _password_hash(cheap: bool) -> PasswordHash:
    if cheap:
        # APP_ENV=test only: test suites register and log in thousands of users.
        return PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    # argon2-cffi defaults: time_cost=3, memory_cost=65536, parallelism=4.
    return PasswordHash((Argon2Hasher(),))


def password_hasher(settings: Settings) -> PasswordHash:
    return _password_hash(settings.app_env == "test")


async def hash_password(settings: Settings, password: str) -> str:
    # Argon2 takes tens of milliseconds of CPU: keep it off the event loop.
    return await run_in_threadpool(password_hasher(settings).hash, password)


async def verify_password(settings: Settings, password: str, password_hash: str) -> bool:
    hasher = password_hasher(settings)
    try:
        return await run_in_threadpool(hasher.verify, password, password_hash)
    except Exception:
        return False


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    type: str
    jti: str
    expires_at: int


def new_jti() -> str:
    return str(uuid.uuid4())


def encode_token(
    settings: Settings, *, user_id: int, token_type: TokenType, now: datetime, lifetime: timedelta
) -> IssuedToken:
    jti = new_jti()
    expires_at = now + lifetime
    claims = {
        "sub": str(user_id),
        "type": token_type,
        "jti": jti,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    token = jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)
    return IssuedToken(token=token, jti=jti, expires_at=expires_at)


def decode_token(settings: Settings, token: str, *, expected_type: TokenType) -> TokenClaims:
    """Verify signature, algorithm, required claims and times (no leeway)."""
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            options={"require": REQUIRED_CLAIMS, "verify_iat": True, "verify_nbf": True},
            leeway=0,
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise errors.InvalidTokenError from exc
    sub, jti, token_type, exp = (
        payload.get("sub"),
        payload.get("jti"),
        payload.get("type"),
        payload["exp"],
    )
    if not isinstance(sub, str) or not sub.isascii() or not sub.isdigit():
        raise errors.InvalidTokenError
    user_id = int(sub)
    if not 0 < user_id < 2**63:
        raise errors.InvalidTokenError
    if not isinstance(jti, str) or not 1 <= len(jti) <= MAX_JTI_LENGTH:
        raise errors.InvalidTokenError
    if token_type != expected_type:
        raise errors.InvalidTokenError
    # Times are integer seconds; PyJWT would also accept numeric strings.
    for name in ("exp", "iat", "nbf"):
        value = payload.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int):
            raise errors.InvalidTokenError
    return TokenClaims(user_id=user_id, type=token_type, jti=jti, expires_at=exp)
