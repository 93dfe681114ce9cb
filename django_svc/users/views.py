"""One API view per path; each method is one operation of the contract.

Every operation names its `operationId` and exact response codes with
`extend_schema`, so `/openapi.json` lists the contract's operations.
"""

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from django.conf import settings
from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import MethodNotAllowed, NotFound, ParseError, UnsupportedMediaType
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import BAD_CREDENTIALS, THROTTLED, ProblemError
from config.hardening import StrictJSONParser
from users import selectors, services
from users.authentication import bearer_token
from users.models import User
from users.permissions import IsAdmin
from users.serializers import (
    LogoutInput,
    PasswordChangeInput,
    RefreshInput,
    TokenFormInput,
    TokenInput,
    TokenPairOutput,
    UserCreateInput,
    UserListQuery,
    UserOutput,
    UserPageOutput,
    UserUpdateInput,
    UserUpdateMeInput,
)
from users.throttling import (
    client_address,
    login_key,
    login_retry_after,
    register_login_failure,
)

# drf-spectacular's stubs type `auth` as names, but it takes security requirement objects.
BEARER: Any = [{"OAuth2PasswordBearer": []}]
PUBLIC: Any = []


F = TypeVar("F", bound=Callable[..., Response])
PROBLEM = OpenApiResponse(description="Problem details (RFC 9457).")


def operation(
    operation_id: str,
    *,
    tag: str,
    summary: str,
    responses: dict[int, Any],
    problems: tuple[int, ...],
    public: bool = False,
    **extra: Any,
) -> Callable[[F], F]:
    """`extend_schema` for one operation of the contract: its id, success and problem statuses."""
    decorate: Callable[[F], F] = extend_schema(
        operation_id=operation_id,
        tags=[tag],
        summary=summary,
        auth=PUBLIC if public else BEARER,
        responses={**responses, **dict.fromkeys(problems, PROBLEM)},
        **extra,
    )
    return decorate


def has_body(request: Request) -> bool:
    length = request.META.get("CONTENT_LENGTH") or "0"
    return length.isdigit() and int(length) > 0


def request_body(request: Request) -> Any:
    """The parsed body, or the contract's 400/415 when there is none to parse.

    DRF reads a missing body, or one without a `Content-Type`, as `{}`.
    """
    if not has_body(request):
        raise ParseError("The request body is empty.")
    if not request.content_type:
        raise UnsupportedMediaType("")
    return request.data


def _user_or_404(user_id: int) -> User:
    user = selectors.user_get(user_id=user_id)
    if user is None:
        raise NotFound()
    return user


def _no_store(response: Response) -> Response:
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


# The project's base view (a comment, not a docstring: drf-spectacular would
# publish a docstring as every operation's description). No OPTIONS handler:
# a CORS preflight is answered by the middleware, any other OPTIONS is 405.
# A method the path does not have is 405 before authentication, where DRF
# would answer 401 first.
class ApiView(APIView):
    http_method_names = ["get", "post", "put", "patch", "delete", "head"]  # noqa: RUF012

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        method = (request.method or "").lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise MethodNotAllowed(request.method or "")
        super().initial(request, *args, **kwargs)


# --- registration and the admin list ---------------------------------------


class UserCollectionApi(ApiView):
    """`/api/v1/users`: POST registers anyone, GET lists users for admins."""

    def get_authenticators(self) -> list[Any]:
        # Registration is public: a stray Authorization header must not turn it into a 401.
        if getattr(self.request, "method", None) == "POST":
            return []
        return super().get_authenticators()

    def get_permissions(self) -> list[BasePermission]:
        if getattr(self.request, "method", None) == "POST":
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
    def post(self, request: Request) -> Response:
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
    def get(self, request: Request) -> Response:
        query = UserListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        limit: int = query.validated_data["limit"]
        offset: int = query.validated_data["offset"]
        filters = {
            key: query.validated_data[key]
            for key in ("search", "is_active")
            if key in query.validated_data
        }
        users = selectors.user_list(**filters)
        count = users.count()
        page = list(users[offset : offset + limit]) if offset < count else []

        def link(page_offset: int) -> str:
            params = {
                key: str(value).lower() if key == "is_active" else value
                for key, value in filters.items()
            }
            params.update(limit=str(limit), offset=str(page_offset))
            return request.build_absolute_uri(f"{request.path}?{urlencode(params)}")

        return Response(
            {
                "count": count,
                "next": link(offset + limit) if offset + limit < count else None,
                "previous": link(max(0, offset - limit)) if offset > 0 else None,
                "results": UserOutput(page, many=True).data,
            }
        )


# --- tokens ------------------------------------------------------------------


class TokenApi(ApiView):
    authentication_classes = ()
    permission_classes = (AllowAny,)
    parser_classes = (StrictJSONParser, FormParser)

    @operation(
        "login",
        tag="auth",
        summary="Log in with email and password (OAuth2 password grant)",
        responses={200: TokenPairOutput},
        problems=(400, 401, 413, 415, 422, 429, 503),
        public=True,
        request={
            "application/x-www-form-urlencoded": TokenFormInput,
            "application/json": TokenInput,
        },
    )
    def post(self, request: Request) -> Response:
        body = request_body(request)
        is_form = request.content_type.split(";")[0].strip().lower() != "application/json"
        if isinstance(body, QueryDict) and any(len(values) > 1 for _, values in body.lists()):
            raise ParseError("A form field is given more than once.")
        data = (TokenFormInput if is_form else TokenInput)(data=body)
        data.is_valid(raise_exception=True)
        if data.validated_data.get("grant_type", "password") != "password":
            raise ParseError("grant_type must be password.")
        username: str = data.validated_data["username"]
        key = login_key(address=client_address(request), username=username)
        retry_after = login_retry_after(key=key)
        if retry_after is not None:
            raise ProblemError(429, THROTTLED, {"Retry-After": str(retry_after)})
        user = services.authenticate(email=username, password=data.validated_data["password"])
        if user is None:
            # Counted before answering: of concurrent failures, only those
            # within the limit get a 401, the rest are throttled.
            failures = register_login_failure(key=key)
            if failures > settings.LOGIN_MAX_FAILURES:
                retry_after = login_retry_after(key=key) or 1
                raise ProblemError(429, THROTTLED, {"Retry-After": str(retry_after)})
            raise ProblemError(401, BAD_CREDENTIALS)
        return _no_store(Response(services.issue_token_pair(user=user)))


class RefreshApi(ApiView):
    authentication_classes = ()
    permission_classes = (AllowAny,)

    @operation(
        "refreshTokens",
        tag="auth",
        summary="Exchange a refresh token for a new pair (rotation)",
        responses={200: TokenPairOutput},
        problems=(400, 401, 413, 415, 422, 503),
        public=True,
        request=RefreshInput,
    )
    def post(self, request: Request) -> Response:
        data = RefreshInput(data=request_body(request))
        data.is_valid(raise_exception=True)
        pair = services.rotate_refresh_token(raw_token=data.validated_data["refresh_token"])
        return _no_store(Response(pair))


class LogoutApi(ApiView):
    @operation(
        "logout",
        tag="auth",
        summary="Revoke the access token and, optionally, a refresh token",
        responses={204: None},
        problems=(400, 401, 413, 415, 422, 503),
        request=LogoutInput,
    )
    def post(self, request: Request) -> Response:
        refresh_token = None
        # The body is optional, but a JSON `null` is a body (and not an object).
        if has_body(request):
            data = LogoutInput(data=request_body(request))
            data.is_valid(raise_exception=True)
            refresh_token = data.validated_data.get("refresh_token")
        assert isinstance(request.user, User)
        services.revoke_tokens(
            user=request.user, access_token=bearer_token(request), raw_refresh_token=refresh_token
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- self-service ------------------------------------------------------------


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
        user = services.update_user(user=request.user, data=dict(data.validated_data))
        return Response(UserOutput(user).data)

    @operation(
        "deleteCurrentUser",
        tag="users",
        summary="Delete one's own account",
        responses={204: None},
        problems=(401, 503),
    )
    def delete(self, request: Request) -> Response:
        assert isinstance(request.user, User)
        services.delete_user(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MePasswordApi(ApiView):
    @operation(
        "changePassword",
        tag="users",
        summary="Change one's own password",
        responses={204: None},
        problems=(400, 401, 413, 415, 422, 503),
        request=PasswordChangeInput,
    )
    def put(self, request: Request) -> Response:
        data = PasswordChangeInput(data=request_body(request))
        data.is_valid(raise_exception=True)
        assert isinstance(request.user, User)
        services.change_password(
            user=request.user,
            current_password=data.validated_data["current_password"],
            new_password=data.validated_data["new_password"],
            access_token=bearer_token(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- admin -------------------------------------------------------------------


class AdminApi(ApiView):
    # Checked before the target user is looked up, so a non-admin never
    # learns whether an id exists.
    permission_classes = (IsAuthenticated, IsAdmin)


class UserDetailApi(AdminApi):
    @operation(
        "getUser",
        tag="admin",
        summary="One user (admin)",
        responses={200: UserOutput},
        problems=(401, 403, 404, 503),
    )
    def get(self, request: Request, id: int) -> Response:
        return Response(UserOutput(_user_or_404(id)).data)

    @operation(
        "updateUser",
        tag="admin",
        summary="Update a user (admin)",
        responses={200: UserOutput},
        problems=(400, 401, 403, 404, 409, 413, 415, 422, 503),
        request=UserUpdateInput,
    )
    def patch(self, request: Request, id: int) -> Response:
        user = _user_or_404(id)
        data = UserUpdateInput(data=request_body(request))
        data.is_valid(raise_exception=True)
        user = services.update_user(user=user, data=dict(data.validated_data))
        return Response(UserOutput(user).data)

    @operation(
        "deleteUser",
        tag="admin",
        summary="Delete a user (admin)",
        responses={204: None},
        problems=(401, 403, 404, 503),
    )
    def delete(self, request: Request, id: int) -> Response:
        services.delete_user(user=_user_or_404(id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserActivateApi(AdminApi):
    @operation(
        "activateUser",
        tag="admin",
        summary="Activate a user (admin, idempotent)",
        responses={200: UserOutput},
        problems=(401, 403, 404, 503),
        request=None,
    )
    def post(self, request: Request, id: int) -> Response:
        user = services.set_user_active(user=_user_or_404(id), is_active=True)
        return Response(UserOutput(user).data)


class UserDeactivateApi(AdminApi):
    @operation(
        "deactivateUser",
        tag="admin",
        summary="Deactivate a user (admin, idempotent)",
        responses={200: UserOutput},
        problems=(401, 403, 404, 503),
        request=None,
    )
    def post(self, request: Request, id: int) -> Response:
        user = services.set_user_active(user=_user_or_404(id), is_active=False)
        return Response(UserOutput(user).data)
