"""Password hashing (argon2id) and JWT encoding/decoding (HS256 only)."""

import os
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import Any, Literal

import anyio
import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app import errors
from app.config import Settings

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "type", "jti", "iss"]
# The contract's one reading of a token: canonical decimal ids, printable-ASCII jtis,
# times that fit a date.
SUBJECT = re.compile(r"[1-9][0-9]{0,18}")
JTI = re.compile(r"[\x21-\x7e]{1,64}")
MAX_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z

TokenType = Literal["access", "refresh"]
# Tokens in mailed links: JWTs of their own type, never accepted as access or refresh.
LinkPurpose = Literal["password-reset", "email-verification"]


@lru_cache
def _password_hash(cheap: bool) -> PasswordHash:
    if cheap:
        # APP_ENV=test only: test suites register and log in thousands of users.
        return PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    # argon2-cffi defaults: time_cost=3, memory_cost=65536, parallelism=4.
    return PasswordHash((Argon2Hasher(),))


def password_hasher(settings: Settings) -> PasswordHash:
    return _password_hash(settings.app_env == "test")


@cache
def _hashing_slots() -> anyio.CapacityLimiter:
    # argon2 takes 64 MiB and a core per hash: more at once only queue for the CPU
    # and add to the worker's memory.
    return anyio.CapacityLimiter(os.cpu_count() or 1)


async def hash_password(settings: Settings, password: str) -> str:
    # Off the event loop, in at most one thread per core.
    hasher = password_hasher(settings)
    return await anyio.to_thread.run_sync(hasher.hash, password, limiter=_hashing_slots())


async def verify_password(settings: Settings, password: str, password_hash: str) -> bool:
    hasher = password_hasher(settings)
    try:
        return await anyio.to_thread.run_sync(
            hasher.verify, password, password_hash, limiter=_hashing_slots()
        )
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
        "iss": settings.jwt_issuer,
    }
    token = jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)
    return IssuedToken(token=token, jti=jti, expires_at=expires_at)


def decode_token(settings: Settings, token: str, *, expected_type: TokenType) -> TokenClaims:
    """Verify signature, algorithm, issuer, required claims and times (no leeway)."""
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            issuer=settings.jwt_issuer,
            # Claims the contract does not name, `aud` included, are ignored.
            options={"require": REQUIRED_CLAIMS, "verify_aud": False},
            leeway=0,
        )
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError) as exc:
        raise errors.InvalidTokenError from exc
    sub, jti, token_type = payload["sub"], payload["jti"], payload["type"]
    if not isinstance(sub, str) or not SUBJECT.fullmatch(sub) or int(sub) >= 2**63:
        raise errors.InvalidTokenError
    if not isinstance(jti, str) or not JTI.fullmatch(jti) or token_type != expected_type:
        raise errors.InvalidTokenError
    # Times are integer seconds; PyJWT would also accept numeric strings and floats.
    for name in ("exp", "iat", "nbf"):
        value = payload.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value > MAX_TIMESTAMP:
            raise errors.InvalidTokenError
    return TokenClaims(user_id=int(sub), type=token_type, jti=jti, expires_at=payload["exp"])


def encode_link_token(
    settings: Settings, *, purpose: LinkPurpose, user_id: int, state: str, lifetime: timedelta
) -> str:
    """A single-use link token: `state` fingerprints what using it changes (the password
    hash, or the address and its verification), so once used or superseded it fails."""
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "type": purpose,
        "jti": new_jti(),
        "iat": now,
        "exp": now + int(lifetime.total_seconds()),
        "iss": settings.jwt_issuer,
        "state": state,
    }
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)


def decode_link_token(settings: Settings, token: str, *, purpose: LinkPurpose) -> tuple[int, str]:
    """The user id and state the token was made for; InvalidLinkTokenError otherwise."""
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            issuer=settings.jwt_issuer,
            options={"require": [*REQUIRED_CLAIMS, "state"], "verify_aud": False},
        )
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError) as exc:
        raise errors.InvalidLinkTokenError from exc
    sub, state = payload["sub"], payload["state"]
    if payload["type"] != purpose or not isinstance(state, str):
        raise errors.InvalidLinkTokenError
    if not isinstance(sub, str) or not SUBJECT.fullmatch(sub) or int(sub) >= 2**63:
        raise errors.InvalidLinkTokenError
    return int(sub), state
