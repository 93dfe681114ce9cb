"""Token endpoints: login (password grant), refresh rotation, logout."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from flask_jwt_extended import current_user, get_jwt, jwt_required

from .. import tokens
from ..errors import BAD_CREDENTIALS, ApiError, no_content, throttled
from ..extensions import db
from ..hardening import (
    FORM_MEDIA_TYPE,
    JSON_MEDIA_TYPE,
    MalformedBody,
    form_body,
    has_body,
    json_body,
)
from ..schemas import LogoutRequest, RefreshRequest, TokenForm, TokenPair, TokenRequest, validate
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
    pair = tokens.issue_token_pair(user=user)
    db.session.commit()
    return _token_response(pair)


@bp.post("/refresh")
def refresh() -> Response:
    body = validate(RefreshRequest, json_body())
    return _token_response(tokens.rotate_refresh_token(token=body.refresh_token))


@bp.post("/logout")
@jwt_required()
def logout() -> Response:
    # The body is optional, but a JSON `null` is a body (and not an object).
    body = validate(LogoutRequest, json_body()) if has_body() else LogoutRequest()
    tokens.revoke_tokens(user=current_user, access=get_jwt(), refresh_token=body.refresh_token)
    return no_content()
