"""Tokens: login (OAuth2 password grant, form or JSON), refresh rotation, logout."""

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response, status
from pydantic import ValidationError

from app import errors, services, tokens
from app.deps import AccessClaims, CurrentUser, RedisDep, SessionDep, SettingsDep
from app.hardening import (
    FORM_MEDIA_TYPE,
    JSON_MEDIA_TYPE,
    JSONRoute,
    media_type,
    parse_form,
    parse_json,
    unsupported_media_type,
)
from app.mail import password_reset_mail, send_mail
from app.models import User
from app.responses import BODY_ERRORS, problems
from app.schemas import (
    EmailVerification,
    LogoutRequest,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    TokenForm,
    TokenPair,
    TokenRequest,
    UserPublic,
)
from app.throttling import release_attempt, reserve_attempt, throttle_key

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], route_class=JSONRoute)

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _validation_errors(exc: ValidationError) -> errors.APIProblem:
    return errors.APIProblem(422, errors=errors.field_errors(exc.errors()))


async def login_credentials(request: Request) -> TokenRequest:
    """The grant as form data (what Swagger UI's Authorize sends) or as JSON."""
    kind = media_type(request)
    body = await request.body()
    if not body:
        raise errors.APIProblem(400, "The request body is empty.")
    data: Any
    model: type[TokenRequest]
    if kind == FORM_MEDIA_TYPE:
        data = {}
        for key, value in parse_form(body):
            if key in data:
                raise errors.APIProblem(400, "A form field is given more than once.")
            data[key] = value
        model = TokenForm
    elif kind == JSON_MEDIA_TYPE:
        data = parse_json(body)
        model = TokenRequest
    else:
        unsupported_media_type("application/x-www-form-urlencoded or application/json")
    if isinstance(data, dict) and "grant_type" in data and data["grant_type"] != "password":
        raise errors.APIProblem(400, "The grant_type must be password.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _validation_errors(exc) from None


_LOGIN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            FORM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/TokenForm"}},
            JSON_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/TokenRequest"}},
        },
    }
}


@router.post(
    "/token",
    operation_id="login",
    response_model=TokenPair,
    responses=problems(400, 401, 403, 413, 415, 422, 429, 503),
    openapi_extra=_LOGIN_BODY,
)
async def login(
    request: Request,
    response: Response,
    credentials: Annotated[TokenRequest, Depends(login_credentials)],
    session: SessionDep,
    redis: RedisDep,
    settings: SettingsDep,
) -> TokenPair:
    """Log in with email and password (OAuth2 password grant)."""
    # The TCP peer as the server sees it (a trusted proxy's X-Forwarded-For only
    # when the server was started with FORWARDED_ALLOW_IPS).
    client_ip = request.client.host if request.client else ""
    key = throttle_key(client_ip, credentials.username)
    retry_after = await reserve_attempt(session, redis, settings, key=key)
    if retry_after is not None:
        raise errors.throttled(retry_after)
    user = await services.authenticate(
        session, settings, email=credentials.username, password=credentials.password
    )
    if user is None:
        raise errors.unauthorized(errors.INCORRECT_CREDENTIALS)
    await release_attempt(session, redis, settings, key=key)
    if settings.require_verified_email and not user.email_verified:
        raise errors.EmailNotVerifiedError
    response.headers.update(NO_STORE)
    return await tokens.issue_token_pair(
        session, settings, user=user, user_agent=request.headers.get("user-agent"), ip=client_ip
    )


# --8<-- [start:refresh]
@router.post(
    "/refresh",
    operation_id="refreshTokens",
    response_model=TokenPair,
    responses=problems(400, 401, 413, 415, 422, 503),
)
async def refresh(
    body: RefreshRequest, response: Response, session: SessionDep, settings: SettingsDep
) -> TokenPair:
    """Rotate a refresh token: a new pair, and the presented token is spent."""
    pair = await tokens.rotate_refresh_token(session, settings, token=body.refresh_token)
    response.headers.update(NO_STORE)
    return pair
    # --8<-- [end:refresh]


@router.post(
    "/logout",
    operation_id="logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(*BODY_ERRORS, 401, 503),
)
async def logout(
    request: Request,
    user: CurrentUser,
    claims: AccessClaims,
    session: SessionDep,
    redis: RedisDep,
    settings: SettingsDep,
    body: LogoutRequest | None = None,
) -> Response:
    """Revoke the presented access token and, if sent, that refresh token's family."""
    # FastAPI reads a JSON `null` body as no body at all; the body is optional,
    # but one that is sent must be an object.
    if body is None and await request.body():
        raise errors.validation_problem("body", "Must be a JSON object.")
    await tokens.revoke_tokens(
        session,
        redis,
        settings,
        user=user,
        access=claims,
        refresh_token=body.refresh_token if body else None,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/password-reset",
    operation_id="requestPasswordReset",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problems(*BODY_ERRORS, 503),
)
async def request_password_reset(
    body: PasswordResetRequest,
    tasks: BackgroundTasks,
    session: SessionDep,
    redis: RedisDep,
    settings: SettingsDep,
) -> Response:
    """Mail a reset link; the same answer whether or not the address has an account."""
    found = await services.request_password_reset(session, redis, settings, email=body.email)
    if found is not None:
        user, token = found
        tasks.add_task(
            send_mail, settings, **password_reset_mail(settings, to=user.email, token=token)
        )
    return Response(status_code=status.HTTP_202_ACCEPTED)


@router.post(
    "/password-reset/confirm",
    operation_id="confirmPasswordReset",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(*BODY_ERRORS, 503),
)
async def confirm_password_reset(
    body: PasswordResetConfirm, session: SessionDep, redis: RedisDep, settings: SettingsDep
) -> Response:
    """Set a new password with the mailed token; every earlier token stops working."""
    await services.confirm_password_reset(
        session, redis, settings, token=body.token, new_password=body.new_password
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/verify-email",
    operation_id="verifyEmail",
    response_model=UserPublic,
    responses=problems(*BODY_ERRORS, 503),
)
async def verify_email(body: EmailVerification, session: SessionDep, settings: SettingsDep) -> User:
    """Verify the address with the mailed token."""
    return await services.verify_email(session, settings, token=body.token)
