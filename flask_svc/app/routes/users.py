"""The user resource: registration, the self surface (/users/me) and admin management."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request, url_for
from flask_jwt_extended import current_user, get_jwt, jwt_required
from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter

from .. import services, tokens
from ..errors import (
    LAST_ADMIN,
    OWN_ACCOUNT,
    ApiError,
    EmailAlreadyVerifiedError,
    no_content,
    throttled,
)
from ..extensions import db
from ..hardening import json_body
from ..models import User
from ..schemas import (
    MAX_ID,
    PasswordChange,
    SessionPublic,
    UserCreate,
    UserListQuery,
    UserPublic,
    UsersPage,
    UserUpdate,
    UserUpdateMe,
    validate,
    validate_query,
)
from ..security import admin_required
from ..throttling import account_key, release_attempt, reserve_attempt

bp = Blueprint("users", __name__, url_prefix="/api/v1/users")


class UserIdConverter(BaseConverter):
    """A positive integer below 2^63 as the contract writes it (no sign, no leading zero);
    anything else is no match (404)."""

    regex = r"[1-9][0-9]*"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= MAX_ID:
            # Not ValidationError ("try the next rule"): the rules of the other
            # methods on this path would then make it a 405.
            raise NotFound()
        return number

    def to_url(self, value: Any) -> str:
        return str(int(value))


def user_json(user: User, status: int = 200) -> tuple[Response, int]:
    return jsonify(UserPublic.model_validate(user).model_dump(mode="json")), status


@bp.post("")
def register() -> Response:
    body = validate(UserCreate, json_body())
    user = services.create_user(
        email=body.email, password=body.password, name=body.name, age=body.age
    )
    response, _ = user_json(user)
    response.status_code = 201
    response.headers["Location"] = url_for("users.get_user", id=user.id)
    return response


def not_own_account(user: User) -> User:
    """An admin cannot deactivate or delete their own account here (409)."""
    if user.id == current_user.id:
        raise ApiError(409, OWN_ACCOUNT)
    return user


# --8<-- [start:me]
@bp.get("/me")
@jwt_required()
def get_me() -> tuple[Response, int]:
    return user_json(current_user)
    # --8<-- [end:me]


@bp.patch("/me")
@jwt_required()
def update_me() -> tuple[Response, int]:
    body = validate(UserUpdateMe, json_body())
    return user_json(services.update_user(user=current_user, changes=body.changes()))


@bp.put("/me/password")
@jwt_required()
def change_password() -> Response:
    body = validate(PasswordChange, json_body())
    # Wrong current passwords are throttled per account, as failed logins are.
    key = account_key(current_user.id)
    retry_after = reserve_attempt(key=key)
    if retry_after is not None:
        raise throttled(retry_after)
    services.change_password(
        user=current_user,
        access=get_jwt(),
        current_password=body.current_password,
        new_password=body.new_password,
    )
    release_attempt(key=key)
    return no_content()


@bp.delete("/me")
@jwt_required()
def delete_me() -> Response:
    if services.is_last_active_admin(user=current_user):
        raise ApiError(409, LAST_ADMIN)
    services.delete_user(user=current_user)
    return no_content()


@bp.post("/me/verification-email")
@jwt_required()
def resend_verification_email() -> tuple[str, int]:
    if current_user.email_verified:
        raise EmailAlreadyVerifiedError
    if services.may_mail(email=current_user.email):
        services.send_verification_mail(user=current_user)
    return "", 202


@bp.get("/me/sessions")
@jwt_required()
def list_sessions() -> Response:
    sessions = tokens.list_sessions(user=current_user, access=get_jwt())
    return jsonify([SessionPublic.model_dump(s, mode="json") for s in sessions])


@bp.delete("/me/sessions")
@jwt_required()
def delete_sessions() -> Response:
    tokens.revoke_all_for_user(user=current_user, access=get_jwt())
    db.session.commit()
    return no_content()


@bp.delete("/me/sessions/<session_id>")
@jwt_required()
def delete_session(session_id: str) -> Response:
    if not tokens.end_session(user=current_user, session_id=session_id):
        raise NotFound()
    return no_content()


def _page_url(limit: int, offset: int) -> str:
    # Repeat the request's own filters; unknown parameters are dropped.
    params = {key: value for key, value in request.args.items() if key in ("search", "is_active")}
    params.update(limit=str(limit), offset=str(offset))
    return f"{request.base_url}?{urlencode(params)}"


@bp.get("")
@admin_required
def list_users() -> Response:
    query = validate_query(UserListQuery, request.args)
    limit, offset = query.limit, query.offset
    is_active = None if query.is_active is None else query.is_active == "true"
    count, users = services.list_users(
        limit=limit, offset=offset, search=query.search, is_active=is_active
    )
    page = UsersPage(
        count=count,
        next=_page_url(limit, offset + limit) if offset + limit < count else None,
        previous=_page_url(limit, max(0, offset - limit)) if offset > 0 else None,
        results=[UserPublic.model_validate(user) for user in users],
    )
    return jsonify(page.model_dump(mode="json"))


@bp.get("/<user_id:id>")
@admin_required
def get_user(id: int) -> tuple[Response, int]:
    return user_json(db.get_or_404(User, id))


@bp.patch("/<user_id:id>")
@admin_required
def update_user(id: int) -> tuple[Response, int]:
    user = db.get_or_404(User, id)
    body = validate(UserUpdate, json_body())
    if user.id == current_user.id and body.changes().get("is_admin") is False:
        raise ApiError(409, OWN_ACCOUNT)
    return user_json(services.update_user(user=user, changes=body.changes()))


@bp.delete("/<user_id:id>")
@admin_required
def delete_user(id: int) -> Response:
    services.delete_user(user=not_own_account(db.get_or_404(User, id)))
    return no_content()


@bp.post("/<user_id:id>/activate")
@admin_required
def activate_user(id: int) -> tuple[Response, int]:
    return user_json(services.set_user_active(user=db.get_or_404(User, id), is_active=True))


@bp.post("/<user_id:id>/deactivate")
@admin_required
def deactivate_user(id: int) -> tuple[Response, int]:
    user = not_own_account(db.get_or_404(User, id))
    return user_json(services.set_user_active(user=user, is_active=False))
