"""Password hashing and the Flask-JWT-Extended wiring for the shared token shape."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from functools import cache, wraps
from typing import Any, ParamSpec, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, Response, current_app, g, request
from flask_jwt_extended import current_user, verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTDecodeError

from . import tokens
from .errors import (
    ADMIN_REQUIRED,
    BEARER,
    BEARER_INVALID,
    INVALID_TOKEN,
    NOT_AUTHENTICATED,
    ApiError,
    problem,
)
from .extensions import jwt
from .models import User

# argon2id with argon2-cffi's defaults (time_cost=3, memory_cost=65536,
# parallelism=4), the same parameters as pwdlib in the FastAPI service.
FULL_COST = PasswordHasher()
# APP_ENV=test only: test suites register and log in thousands of users.
TEST_COST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


# --8<-- [start:passwords]
def password_hasher() -> PasswordHasher:
    return TEST_COST if current_app.config["APP_ENV"] == "test" else FULL_COST


# argon2 takes 64 MiB and a core per hash: more at once than the worker has cores only
# queue for the CPU and add to its memory (a login burst would exhaust it).
HASHING_SLOTS = threading.BoundedSemaphore(os.cpu_count() or 1)


def hash_password(password: str) -> str:
    with HASHING_SLOTS:
        return password_hasher().hash(password)


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash("dummy password, never matches")


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash, check a dummy so unknown emails cost the same."""
    hasher = password_hasher()
    expected = password_hash or _dummy_hash(hasher)
    try:
        with HASHING_SLOTS:
            return hasher.verify(expected, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return password_hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return False
    # --8<-- [end:passwords]


# --- Flask-JWT-Extended loaders -------------------------------------------------


def _unauthorized(token_sent: bool) -> Response:
    return problem(
        401,
        INVALID_TOKEN if token_sent else NOT_AUTHENTICATED,
        headers={"WWW-Authenticate": BEARER_INVALID if token_sent else BEARER},
    )


def _decode_key(jwt_header: dict[str, Any], jwt_payload: dict[str, Any]) -> str:
    # The only hook that sees the claims before the library fills in a missing
    # `type` ("access") and `jti` (None): refuse such tokens here.
    problem_text = tokens.claims_problem(jwt_payload)
    if problem_text:
        raise JWTDecodeError(problem_text)
    return str(current_app.config["JWT_SECRET_KEY"])


# --8<-- [start:loaders]
def _user_lookup(jwt_header: dict[str, Any], jwt_data: dict[str, Any]) -> User | None:
    # Read on every request, so logout, deletion, deactivation and demotion act at once.
    user = tokens.user_for_access_token(user_id=int(jwt_data["sub"]), jti=jwt_data["jti"])
    if user is None:
        return None
    g.user_id = user.id
    return user


def _in_blocklist(jwt_header: dict[str, Any], jwt_data: dict[str, Any]) -> bool:
    return tokens.is_token_revoked(jwt_data["jti"])


def init_app(app: Flask) -> None:
    jwt.init_app(app)
    jwt.decode_key_loader(_decode_key)
    jwt.user_lookup_loader(_user_lookup)
    jwt.token_in_blocklist_loader(_in_blocklist)
    # Every rejection is a 401 problem body (the library's default is 422 {"msg"}).
    jwt.unauthorized_loader(lambda reason: _unauthorized("Authorization" in request.headers))
    jwt.invalid_token_loader(lambda reason: _unauthorized(True))
    jwt.expired_token_loader(lambda header, data: _unauthorized(True))
    jwt.revoked_token_loader(lambda header, data: _unauthorized(True))
    jwt.user_lookup_error_loader(lambda header, data: _unauthorized(True))
    jwt.token_verification_failed_loader(lambda header, data: _unauthorized(True))
    jwt.needs_fresh_token_loader(lambda header, data: _unauthorized(True))
    # --8<-- [end:loaders]


P = ParamSpec("P")
R = TypeVar("R")


# --8<-- [start:admin_required]
def admin_required(view: Callable[P, R]) -> Callable[P, R]:
    """`jwt_required()` plus admin rights, checked before any target user is looked up."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        verify_jwt_in_request()
        if not current_user.is_admin:
            raise ApiError(403, ADMIN_REQUIRED)
        return view(*args, **kwargs)

    return wrapper
    # --8<-- [end:admin_required]
