"""Token endpoints: login (password grant), refresh rotation, logout."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request
from flask_jwt_extended import current_user, get_jwt, jwt_required

from .. import services, tokens
from ..errors import BAD_CREDENTIALS, ApiError, EmailNotVerifiedError, no_content, throttled
from ..extensions import db
from ..hardening import (
    FORM_MEDIA_TYPE,
    JSON_MEDIA_TYPE,
    MalformedBody,
    form_body,
    has_body,
    json_body,
)
from ..schemas import (
    EmailVerification,
    LogoutRequest,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    TokenForm,
    TokenPair,
    TokenRequest,
    UserPublic,
    validate,
)
from ..services import authenticate
from ..throttling import release_attempt, reserve_attempt, throttle_key

bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth")


def _token_response(pair: TokenPair) -> Response:
    response = jsonify(pair.model_dump())
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _credentials() -> TokenRequest:
    """Form data (OAuth2 password grant) or JSON; never the query string."""
    if not has_body():
        raise MalformedBody("The request body is empty.")
    if request.mimetype == FORM_MEDIA_TYPE:
        credentials: TokenRequest = validate(TokenForm, form_body())
    elif request.mimetype == JSON_MEDIA_TYPE:
        credentials = validate(TokenRequest, json_body())
    else:
        raise ApiError(
            415, "The request body must be application/x-www-form-urlencoded or application/json."
        )
    if credentials.grant_type is not None and credentials.grant_type != "password":
        raise MalformedBody("The grant_type must be password.")
    return credentials


@bp.post("/token")
def token() -> Response:
    credentials = _credentials()
    key = throttle_key(credentials.username)
    retry_after = reserve_attempt(key=key)
    if retry_after is not None:
        raise throttled(retry_after)
    user = authenticate(email=credentials.username, password=credentials.password)
    if user is None:
        raise ApiError(401, BAD_CREDENTIALS, headers={"WWW-Authenticate": "Bearer"})
    release_attempt(key=key)
    if current_app.config["REQUIRE_VERIFIED_EMAIL"] and not user.email_verified:
        raise EmailNotVerifiedError
    pair = tokens.issue_token_pair(
        user=user, user_agent=request.headers.get("User-Agent"), ip=request.remote_addr
    )
    db.session.commit()
    return _token_response(pair)


# --8<-- [start:refresh]
@bp.post("/refresh")
def refresh() -> Response:
    body = validate(RefreshRequest, json_body())
    return _token_response(tokens.rotate_refresh_token(token=body.refresh_token))
    # --8<-- [end:refresh]


@bp.post("/logout")
@jwt_required()
def logout() -> Response:
    # The body is optional, but a JSON `null` is a body (and not an object).
    body = validate(LogoutRequest, json_body()) if has_body() else LogoutRequest()
    tokens.revoke_tokens(user=current_user, access=get_jwt(), refresh_token=body.refresh_token)
    return no_content()


@bp.post("/password-reset")
def request_password_reset() -> tuple[str, int]:
    body = validate(PasswordResetRequest, json_body())
    services.request_password_reset(email=body.email)
    return "", 202


@bp.post("/password-reset/confirm")
def confirm_password_reset() -> Response:
    body = validate(PasswordResetConfirm, json_body())
    services.confirm_password_reset(token=body.token, new_password=body.new_password)
    return no_content()


@bp.post("/verify-email")
def verify_email() -> Response:
    body = validate(EmailVerification, json_body())
    user = services.verify_email(token=body.token)
    return jsonify(UserPublic.model_validate(user).model_dump(mode="json"))
