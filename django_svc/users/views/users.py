"""Users: registration and the admin's management on one ViewSet, the caller's own account
as small views."""

from typing import Any

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import (
    LAST_ADMIN,
    NOT_FOUND,
    OWN_ACCOUNT,
    EmailAlreadyVerifiedError,
    ProblemError,
    throttled,
)
from api.views import ApiView, ApiViewSet, operation, request_body
from users import selectors, services, tokens
from users.authentication import bearer_token
from users.models import User
from users.permissions import IsAdmin
from users.serializers import (
    PasswordChangeInput,
    SessionOutput,
    UserCreateInput,
    UserListQuery,
    UserOutput,
    UserPageOutput,
    UserUpdateInput,
    UserUpdateMeInput,
)
from users.throttling import account_key, release_attempt, reserve_attempt


# --8<-- [start:viewset]
class UserViewSet(ApiViewSet):
    queryset = User.objects.order_by("id")
    lookup_url_kwarg = "id"
    lookup_value_converter = "user_id"

    def get_authenticators(self) -> list[Any]:
        # Registration is public: a stray Authorization header must not turn it into a 401.
        method = getattr(self.request, "method", None) or ""
        if self.action_map.get(method.lower()) == "create":
            return []
        return super().get_authenticators()

    def get_permissions(self) -> list[BasePermission]:
        # The admin check comes before the target is looked up, so a non-admin never
        # learns whether an id exists.
        if self.action == "create":
            return [AllowAny()]
        return [IsAuthenticated(), IsAdmin()]

    @operation(
        "registerUser",
        tag="users",
        summary="Register a new user",
        responses={201: UserOutput},
        problems=(400, 409, 413, 415, 422, 503),
        public=True,
        request=UserCreateInput,
    )
    def create(self, request: Request) -> Response:
        data = UserCreateInput(data=request_body(request))
        data.is_valid(raise_exception=True)
        user = services.create_user(**data.validated_data)
        return Response(
            UserOutput(user).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/users/{user.pk}"},
        )

    @operation(
        "listUsers",
        tag="admin",
        summary="List users (admin)",
        responses={200: UserPageOutput},
        problems=(401, 403, 422, 503),
        parameters=[
            OpenApiParameter("limit", OpenApiTypes.INT, description="1 to 100, default 20."),
            OpenApiParameter("offset", OpenApiTypes.INT, description="0 or more, default 0."),
            OpenApiParameter("search", OpenApiTypes.STR, description="Substring of name or email."),
            OpenApiParameter("is_active", OpenApiTypes.BOOL),
        ],
    )
    def list(self, request: Request) -> Response:
        # Checked here, where DRF's LimitOffsetPagination would fall back to defaults.
        query = UserListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = {k: v for k, v in query.validated_data.items() if k in {"search", "is_active"}}
        page = self.paginate_queryset(selectors.user_list(**filters))
        return self.get_paginated_response(UserOutput(page, many=True).data)

    @operation(
        "getUser",
        tag="admin",
        summary="One user (admin)",
        responses={200: UserOutput},
        problems=(401, 403, 404, 503),
    )
    def retrieve(self, request: Request, id: int) -> Response:
        return Response(UserOutput(self.get_object()).data)

    @operation(
        "updateUser",
        tag="admin",
        summary="Update a user (admin)",
        responses={200: UserOutput},
        problems=(400, 401, 403, 404, 409, 413, 415, 422, 503),
        request=UserUpdateInput,
    )
    def partial_update(self, request: Request, id: int) -> Response:
        user = self.get_object()
        data = UserUpdateInput(data=request_body(request))
        data.is_valid(raise_exception=True)
        if user.pk == request.user.pk and data.validated_data.get("is_admin") is False:
            raise ProblemError(409, OWN_ACCOUNT)
        user = services.update_user(user=user, changes=dict(data.validated_data))
        return Response(UserOutput(user).data)

    @operation(
        "deleteUser",
        tag="admin",
        summary="Delete a user (admin)",
        responses={204: None},
        problems=(401, 403, 404, 409, 503),
    )
    def destroy(self, request: Request, id: int) -> Response:
        user = self.get_object()
        if user.pk == request.user.pk:
            raise ProblemError(409, OWN_ACCOUNT)
        services.delete_user(user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @operation(
        "activateUser",
        tag="admin",
        summary="Activate a user (admin, idempotent)",
        responses={200: UserOutput},
        problems=(401, 403, 404, 503),
        request=None,
    )
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, id: int) -> Response:
        user = services.set_user_active(user=self.get_object(), is_active=True)
        return Response(UserOutput(user).data)

    @operation(
        "deactivateUser",
        tag="admin",
        summary="Deactivate a user (admin, idempotent)",
        responses={200: UserOutput},
        problems=(401, 403, 404, 409, 503),
        request=None,
    )
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, id: int) -> Response:
        user = self.get_object()
        if user.pk == request.user.pk:
            raise ProblemError(409, OWN_ACCOUNT)
        user = services.set_user_active(user=user, is_active=False)
        return Response(UserOutput(user).data)

    # --8<-- [end:viewset]


# --8<-- [start:me]
class MeApi(ApiView):
    @operation(
        "getCurrentUser",
        tag="users",
        summary="The authenticated user",
        responses={200: UserOutput},
        problems=(401, 503),
    )
    def get(self, request: Request) -> Response:
        assert isinstance(request.user, User)
        return Response(UserOutput(request.user).data)

    @operation(
        "updateCurrentUser",
        tag="users",
        summary="Update one's own name, email or age",
        responses={200: UserOutput},
        problems=(400, 401, 409, 413, 415, 422, 503),
        request=UserUpdateMeInput,
    )
    def patch(self, request: Request) -> Response:
        data = UserUpdateMeInput(data=request_body(request))
        data.is_valid(raise_exception=True)
        assert isinstance(request.user, User)
        user = services.update_user(user=request.user, changes=dict(data.validated_data))
        return Response(UserOutput(user).data)

    @operation(
        "deleteCurrentUser",
        tag="users",
        summary="Delete one's own account",
        responses={204: None},
        problems=(401, 409, 503),
    )
    def delete(self, request: Request) -> Response:
        assert isinstance(request.user, User)
        if selectors.is_last_active_admin(user=request.user):
            raise ProblemError(409, LAST_ADMIN)
        services.delete_user(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    # --8<-- [end:me]


class MePasswordApi(ApiView):
    @operation(
        "changePassword",
        tag="users",
        summary="Change one's own password",
        responses={204: None},
        problems=(400, 401, 413, 415, 422, 429, 503),
        request=PasswordChangeInput,
    )
    def put(self, request: Request) -> Response:
        data = PasswordChangeInput(data=request_body(request))
        data.is_valid(raise_exception=True)
        assert isinstance(request.user, User)
        # Wrong current passwords are throttled per account, as failed logins are.
        key = account_key(request.user.pk)
        retry_after = reserve_attempt(key=key)
        if retry_after is not None:
            raise throttled(retry_after)
        services.change_password(
            user=request.user,
            current_password=data.validated_data["current_password"],
            new_password=data.validated_data["new_password"],
            access=bearer_token(request),
        )
        release_attempt(key=key)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeVerificationEmailApi(ApiView):
    @operation(
        "resendVerificationEmail",
        tag="users",
        summary="Mail the verification link again",
        responses={202: None},
        problems=(401, 409, 503),
        request=None,
    )
    def post(self, request: Request) -> Response:
        assert isinstance(request.user, User)
        if request.user.email_verified:
            raise EmailAlreadyVerifiedError
        if services.may_mail(email=request.user.email):
            services.send_verification_mail(user=request.user)
        return Response(status=status.HTTP_202_ACCEPTED)


class MeSessionsApi(ApiView):
    @operation(
        "listSessions",
        tag="users",
        summary="One's live logins, newest first",
        responses={200: SessionOutput(many=True)},
        problems=(401, 503),
    )
    def get(self, request: Request) -> Response:
        assert isinstance(request.user, User)
        sessions = tokens.list_sessions(user=request.user, access=bearer_token(request))
        return Response(SessionOutput(sessions, many=True).data)

    @operation(
        "deleteSessions",
        tag="users",
        summary="End every login of the account, the caller's included",
        responses={204: None},
        problems=(401, 503),
    )
    def delete(self, request: Request) -> Response:
        assert isinstance(request.user, User)
        with transaction.atomic():
            tokens.revoke_all_for_user(user=request.user, access=bearer_token(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeSessionApi(ApiView):
    @operation(
        "deleteSession",
        tag="users",
        summary="End one login",
        responses={204: None},
        problems=(401, 404, 503),
    )
    def delete(self, request: Request, session_id: str) -> Response:
        assert isinstance(request.user, User)
        if not tokens.end_session(user=request.user, session_id=session_id):
            raise ProblemError(404, NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)
