"""JWT: HS256 only, every required claim, no leeway."""

import time
from datetime import timedelta
from typing import Any

import jwt
import pytest

from app.config import Settings
from app.errors import InvalidTokenError
from app.models import utcnow
from app.security import decode_token, encode_token, hash_password, verify_password

from .conftest import SECRET


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "1",
        "type": "access",
        "jti": "abc",
        "iat": now,
        "exp": now + 60,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def test_round_trip(settings: Settings) -> None:
    issued = encode_token(
        settings, user_id=42, token_type="access", now=utcnow(), lifetime=timedelta(minutes=5)
    )
    claims = decode_token(settings, issued.token, expected_type="access")
    assert (claims.user_id, claims.jti, claims.type) == (42, issued.jti, "access")
    payload = jwt.decode(issued.token, SECRET, algorithms=["HS256"])
    assert set(payload) == {"sub", "type", "jti", "iat", "exp", "iss"}
    assert payload["sub"] == "42"


@pytest.mark.parametrize(
    "claims",
    [
        _claims(exp=None),
        _claims(iat=None),
        _claims(sub=None),
        _claims(type=None),
        _claims(jti=None),
        _claims(sub=1),
        _claims(sub="abc"),
        _claims(sub="0"),
        _claims(jti=""),
        _claims(jti="x" * 65),
        _claims(type="refresh"),
        _claims(exp=int(time.time()) - 1),
        _claims(iat=int(time.time()) + 30),
        _claims(nbf=int(time.time()) + 30),
        _claims(iat="0"),
        _claims(exp=float(int(time.time()) + 60)),
    ],
)
def test_rejected_claims(settings: Settings, claims: dict[str, Any]) -> None:
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    with pytest.raises(InvalidTokenError):
        decode_token(settings, token, expected_type="access")


def test_other_algorithms_and_keys_are_rejected(settings: Settings) -> None:
    for token in (
        jwt.encode(_claims(), SECRET, algorithm="HS512"),
        jwt.encode(_claims(), "another-secret-of-at-least-32-bytes!!", algorithm="HS256"),
        jwt.encode(_claims(), None, algorithm="none"),
        "not-a-token",
    ):
        with pytest.raises(InvalidTokenError):
            decode_token(settings, token, expected_type="access")


async def test_password_hash_is_argon2id_and_exact(settings: Settings) -> None:
    emoji = "\U0001f600" * 128
    hashed = await hash_password(settings, emoji)
    assert hashed.startswith("$argon2id$")
    assert await verify_password(settings, emoji, hashed)
    assert not await verify_password(settings, emoji[:-1], hashed)
    assert not await verify_password(settings, "x", "not-a-hash")


@pytest.mark.parametrize(
    ("app_env", "parameters"),
    [("test", "m=1024,t=1,p=1"), ("development", "m=65536,t=3,p=4")],
)
async def test_only_app_env_test_hashes_with_cheap_parameters(
    app_env: str, parameters: str
) -> None:
    settings = Settings(app_env=app_env, jwt_secret_key=SECRET)
    assert f"$argon2id$v=19${parameters}$" in await hash_password(settings, "a password")
