"""Dependencies and their Annotated aliases: the session, the current user, the admin."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.config import Settings
from app.hardening import bearer_token
from app.models import User
from app.revocation import is_token_revoked
from app.security import TokenClaims, decode_token
from app.services import get_user

# Only documents the scheme (Swagger UI "Authorize"); the header is parsed below.
oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/token", scheme_name="OAuth2PasswordBearer", auto_error=False
)


# The dependencies are coroutines even where they do not await: FastAPI runs a plain
# function in the thread pool, a thread hop per request for reading a field.
async def get_settings_dep(request: Request) -> Settings:
    settings = request.app.state.settings
    assert isinstance(settings, Settings)
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session:
        yield session


async def get_redis(request: Request) -> Redis | None:
    redis: Redis | None = request.app.state.redis
    return redis


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
RedisDep = Annotated[Redis | None, Depends(get_redis)]


async def get_access_claims(
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    redis: RedisDep,
    _documented: Annotated[str | None, Depends(oauth2_scheme)],
) -> TokenClaims:
    token = bearer_token(request)
    claims = decode_token(settings, token, expected_type="access")
    if await is_token_revoked(session, redis, jti=claims.jti):
        raise errors.invalid_token()
    return claims


AccessClaims = Annotated[TokenClaims, Depends(get_access_claims)]


async def get_current_user(request: Request, session: SessionDep, claims: AccessClaims) -> User:
    # Read on every request: deactivation, deletion and demotion act at once.
    user = await get_user(session, user_id=claims.user_id)
    if user is None or not user.is_active:
        raise errors.invalid_token()
    request.state.user_id = user.id
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def require_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise errors.APIProblem(403, errors.ADMIN_REQUIRED)
    return user


AdminUser = Annotated[User, Depends(require_admin)]
