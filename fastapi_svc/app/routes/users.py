"""Users: registration, the self surface (/users/me) and admin management."""

from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Request, Response, status
from starlette.convertors import IntegerConvertor, register_url_convertor

from app import errors, services, tokens
from app.config import Settings
from app.deps import (
    AccessClaims,
    AdminUser,
    CurrentUser,
    RedisDep,
    SessionDep,
    SettingsDep,
    require_admin,
)
from app.hardening import JSONRoute, QueryInteger, single_values
from app.mail import send_mail, verification_mail
from app.models import User
from app.responses import BODY_ERRORS, problems
from app.schemas import (
    PasswordChange,
    SessionPublic,
    UserCreate,
    UserPublic,
    UsersPage,
    UserUpdate,
    UserUpdateMe,
    check_text,
)
from app.throttling import account_key, release_attempt, reserve_attempt

router = APIRouter(prefix="/api/v1/users", tags=["users"], route_class=JSONRoute)
admin_router = APIRouter(
    prefix="/api/v1/users",
    tags=["admin"],
    route_class=JSONRoute,
    dependencies=[Depends(require_admin)],
)

MAX_ID = 2**63 - 1
ADMIN_ERRORS = (401, 403, 404, 503)


def mail_verification_link(tasks: BackgroundTasks, settings: Settings, *, user: User) -> None:
    """After the response, so after the commit: a slow mail server delays nobody."""
    token = services.verification_token(settings, user=user)
    tasks.add_task(send_mail, settings, **verification_mail(settings, to=user.email, token=token))


@router.post(
    "",
    operation_id="registerUser",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPublic,
    responses=problems(*BODY_ERRORS, 409, 503),
)
async def register_user(
    body: UserCreate,
    response: Response,
    tasks: BackgroundTasks,
    session: SessionDep,
    settings: SettingsDep,
) -> User:
    """Register a new user; a link to verify the address is mailed to it."""
    user = await services.create_user(session, settings, data=body)
    mail_verification_link(tasks, settings, user=user)
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return user


# --8<-- [start:me]
@router.get(
    "/me", operation_id="getCurrentUser", response_model=UserPublic, responses=problems(401, 503)
)
async def get_current_user(user: CurrentUser) -> User:
    """The authenticated user."""
    return user
    # --8<-- [end:me]


@router.patch(
    "/me",
    operation_id="updateCurrentUser",
    response_model=UserPublic,
    responses=problems(*BODY_ERRORS, 401, 409, 503),
)
async def update_current_user(
    body: UserUpdateMe,
    user: CurrentUser,
    tasks: BackgroundTasks,
    session: SessionDep,
    settings: SettingsDep,
) -> User:
    """Change one's own name, email or age; a new address gets a verification link."""
    address = user.email
    await services.update_user(session, user=user, changes=body.model_dump(exclude_unset=True))
    if user.email != address:
        mail_verification_link(tasks, settings, user=user)
    return user


@router.post(
    "/me/verification-email",
    operation_id="resendVerificationEmail",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problems(401, 409, 503),
)
async def resend_verification_email(
    user: CurrentUser,
    tasks: BackgroundTasks,
    session: SessionDep,
    redis: RedisDep,
    settings: SettingsDep,
) -> Response:
    """Mail the verification link again (at most 3 mails per address per window)."""
    if user.email_verified:
        raise errors.EmailAlreadyVerifiedError
    if await services.may_mail(session, redis, settings, email=user.email):
        mail_verification_link(tasks, settings, user=user)
    return Response(status_code=status.HTTP_202_ACCEPTED)


@router.get(
    "/me/sessions",
    operation_id="listSessions",
    response_model=list[SessionPublic],
    responses=problems(401, 503),
)
async def list_sessions(
    user: CurrentUser, claims: AccessClaims, session: SessionDep
) -> list[SessionPublic]:
    """One's live logins, newest first; `current` marks the caller's."""
    return await tokens.list_sessions(session, user=user, access=claims)


@router.delete(
    "/me/sessions",
    operation_id="deleteSessions",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 503),
)
async def delete_sessions(
    user: CurrentUser, claims: AccessClaims, session: SessionDep, redis: RedisDep
) -> Response:
    """End every login of the account, the caller's included."""
    await tokens.revoke_all_for_user(session, redis, user=user, access=claims)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/me/sessions/{session_id}",
    operation_id="deleteSession",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 404, 503),
)
async def delete_session(
    session_id: str,
    user: CurrentUser,
    session: SessionDep,
    redis: RedisDep,
) -> Response:
    """End one login: its refresh tokens and its latest access token stop at once."""
    if not await tokens.end_session(session, redis, user=user, session_id=session_id):
        raise errors.APIProblem(404)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/me",
    operation_id="deleteCurrentUser",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 409, 503),
)
async def delete_current_user(user: CurrentUser, session: SessionDep) -> Response:
    """Delete one's own account (not the last active admin's)."""
    if await services.is_last_active_admin(session, user=user):
        raise errors.APIProblem(409, errors.LAST_ADMIN)
    await services.delete_user(session, user=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/me/password",
    operation_id="changePassword",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(*BODY_ERRORS, 401, 429, 503),
)
async def change_password(
    body: PasswordChange,
    user: CurrentUser,
    claims: AccessClaims,
    session: SessionDep,
    redis: RedisDep,
    settings: SettingsDep,
) -> Response:
    """Change one's password; every token issued before stops working."""
    # Wrong current passwords are throttled per account, as failed logins are.
    key = account_key(user.id)
    retry_after = await reserve_attempt(session, redis, settings, key=key)
    if retry_after is not None:
        raise errors.throttled(retry_after)
    await services.change_password(
        session,
        redis,
        settings,
        user=user,
        access=claims,
        current_password=body.current_password,
        new_password=body.new_password,
    )
    await release_attempt(session, redis, settings, key=key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _page_url(request: Request, params: dict[str, str | int]) -> str:
    return str(request.url.replace(query=urlencode(params)))


@admin_router.get(
    "",
    operation_id="listUsers",
    response_model=UsersPage,
    responses=problems(401, 403, 422, 503),
    dependencies=[Depends(single_values("limit", "offset", "search", "is_active"))],
)
async def list_users(
    request: Request,
    session: SessionDep,
    limit: Annotated[QueryInteger, Query(ge=1, le=100)] = 20,
    offset: Annotated[QueryInteger, Query(ge=0, le=MAX_ID)] = 0,
    search: Annotated[str | None, Query(max_length=254)] = None,
    is_active: Annotated[Literal["true", "false"] | None, Query()] = None,
) -> UsersPage:
    """List users (admin), ordered by id."""
    if search is not None:
        try:
            check_text(search)
        except ValueError as exc:
            raise errors.validation_problem("search", str(exc)) from None
    active = None if is_active is None else is_active == "true"
    count, users = await services.list_users(
        session, limit=limit, offset=offset, search=search, is_active=active
    )
    filters: dict[str, str | int] = {}
    if search is not None:
        filters["search"] = search
    if is_active is not None:
        filters["is_active"] = is_active
    next_url = (
        _page_url(request, {**filters, "limit": limit, "offset": offset + limit})
        if offset + limit < count
        else None
    )
    previous_url = (
        _page_url(request, {**filters, "limit": limit, "offset": max(offset - limit, 0)})
        if offset > 0
        else None
    )
    return UsersPage(
        count=count,
        next=next_url,
        previous=previous_url,
        results=[UserPublic.model_validate(u) for u in users],
    )


class UserIdConvertor(IntegerConvertor):
    """A user id as the contract writes it: no sign, no leading zero (`01` is 404)."""

    regex = "[1-9][0-9]{0,18}"


register_url_convertor("user_id", UserIdConvertor())

UserIdPath = Annotated[
    int,
    Path(
        alias="id",
        description="A user id; anything but a positive integer below 2^63 is 404.",
        json_schema_extra={"minimum": 1, "maximum": MAX_ID},
    ),
]


async def get_target_user(user_id: UserIdPath, session: SessionDep) -> User:
    # Out-of-range ids are unknown resources, not validation errors.
    if not 1 <= user_id <= MAX_ID:
        raise errors.APIProblem(404)
    user = await services.get_user(session, user_id=user_id)
    if user is None:
        raise errors.APIProblem(404)
    return user


TargetUser = Annotated[User, Depends(get_target_user)]


@admin_router.get(
    "/{id:user_id}",
    operation_id="getUser",
    response_model=UserPublic,
    responses=problems(*ADMIN_ERRORS),
)
async def get_user(target: TargetUser) -> User:
    """One user (admin)."""
    return target


@admin_router.patch(
    "/{id:user_id}",
    operation_id="updateUser",
    response_model=UserPublic,
    responses=problems(*BODY_ERRORS, *ADMIN_ERRORS, 409),
)
async def update_user(
    body: UserUpdate,
    target: TargetUser,
    admin: AdminUser,
    tasks: BackgroundTasks,
    session: SessionDep,
    settings: SettingsDep,
) -> User:
    """Change a user's name, email, age or admin flag (admin; never one's own flag off)."""
    if target.id == admin.id and body.is_admin is False:
        raise errors.APIProblem(409, errors.OWN_ACCOUNT)
    address = target.email
    await services.update_user(session, user=target, changes=body.model_dump(exclude_unset=True))
    if target.email != address:
        mail_verification_link(tasks, settings, user=target)
    return target


@admin_router.delete(
    "/{id:user_id}",
    operation_id="deleteUser",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(*ADMIN_ERRORS, 409),
)
async def delete_user(target: TargetUser, admin: AdminUser, session: SessionDep) -> Response:
    """Delete a user (admin; not oneself: `DELETE /users/me` is for that)."""
    if target.id == admin.id:
        raise errors.APIProblem(409, errors.OWN_ACCOUNT)
    await services.delete_user(session, user=target)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@admin_router.post(
    "/{id:user_id}/activate",
    operation_id="activateUser",
    response_model=UserPublic,
    responses=problems(*ADMIN_ERRORS),
)
async def activate_user(target: TargetUser, session: SessionDep, redis: RedisDep) -> User:
    """Activate a user (admin); idempotent."""
    return await services.set_user_active(session, redis, user=target, is_active=True)


@admin_router.post(
    "/{id:user_id}/deactivate",
    operation_id="deactivateUser",
    response_model=UserPublic,
    responses=problems(*ADMIN_ERRORS, 409),
)
async def deactivate_user(
    target: TargetUser, admin: AdminUser, session: SessionDep, redis: RedisDep
) -> User:
    """Deactivate a user (admin; not oneself); idempotent. Ends every session of theirs."""
    if target.id == admin.id:
        raise errors.APIProblem(409, errors.OWN_ACCOUNT)
    return await services.set_user_active(session, redis, user=target, is_active=False)
