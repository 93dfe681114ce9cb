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
from app.revocation import user_for_access_token
from app.security import TokenClaims, decode_token

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
    _documented: Annotated[str | None, Depends(oauth2_scheme)],
) -> TokenClaims:
    return decode_token(settings, bearer_token(request), expected_type="access")


AccessClaims = Annotated[TokenClaims, Depends(get_access_claims)]


async def get_current_user(
    request: Request, session: SessionDep, redis: RedisDep, claims: AccessClaims
) -> User:
    # Read on every request: logout, deactivation, deletion and demotion act at once.
    user = await user_for_access_token(session, redis, user_id=claims.user_id, jti=claims.jti)
    if user is None:
        raise errors.invalid_token()
    request.state.user_id = user.id
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def require_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise errors.APIProblem(403, errors.ADMIN_REQUIRED)
    return user


AdminUser = Annotated[User, Depends(require_admin)]
