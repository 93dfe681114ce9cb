"""Login, refresh and logout: small views around `users.tokens`."""

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.http import QueryDict
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import BAD_CREDENTIALS, EmailNotVerifiedError, ProblemError, throttled
from api.hardening import StrictJSONParser
from api.views import ApiView, PublicApiView, has_body, no_store, operation, request_body
from users import services, tokens
from users.authentication import bearer_token
from users.models import User
from users.serializers import (
    EmailVerificationInput,
    LogoutInput,
    PasswordResetConfirmInput,
    PasswordResetInput,
    RefreshInput,
    TokenFormInput,
    TokenInput,
    TokenPairOutput,
    UserOutput,
)
from users.throttling import client_address, login_key, release_attempt, reserve_attempt


class TokenApi(PublicApiView):
    parser_classes = (FormParser, StrictJSONParser)

    @operation(
        "login",
        tag="auth",
        summary="Log in with email and password (OAuth2 password grant)",
        responses={200: TokenPairOutput},
        problems=(400, 401, 403, 413, 415, 422, 429, 503),
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
            raise ParseError("The grant_type must be password.")
        username: str = data.validated_data["username"]
        key = login_key(address=client_address(request), username=username)
        retry_after = reserve_attempt(key=key)
        if retry_after is not None:
            raise throttled(retry_after)
        user = services.authenticate(email=username, password=data.validated_data["password"])
        if user is None:
            raise ProblemError(401, BAD_CREDENTIALS)
        release_attempt(key=key)
        if settings.REQUIRE_VERIFIED_EMAIL and not user.email_verified:
            raise EmailNotVerifiedError
        # Django's own login signal: its receiver sets `last_login`, as `login()` would.
        user_logged_in.send(sender=User, request=request._request, user=user)
        pair = tokens.issue_token_pair(
            user=user,
            user_agent=request.headers.get("User-Agent"),
            ip=client_address(request),
        )
        return no_store(Response(pair))


# --8<-- [start:refresh]
class RefreshApi(PublicApiView):
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
        pair = tokens.rotate_refresh_token(token=data.validated_data["refresh_token"])
        return no_store(Response(pair))

    # --8<-- [end:refresh]


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
        tokens.revoke_tokens(
            user=request.user, access=bearer_token(request), refresh_token=refresh_token
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetApi(PublicApiView):
    @operation(
        "requestPasswordReset",
        tag="auth",
        summary="Mail a password reset link",
        responses={202: None},
        problems=(400, 413, 415, 422, 503),
        public=True,
        request=PasswordResetInput,
    )
    def post(self, request: Request) -> Response:
        data = PasswordResetInput(data=request_body(request))
        data.is_valid(raise_exception=True)
        services.request_password_reset(email=data.validated_data["email"])
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(PublicApiView):
    @operation(
        "confirmPasswordReset",
        tag="auth",
        summary="Set a new password with the token from the reset mail",
        responses={204: None},
        problems=(400, 413, 415, 422, 503),
        public=True,
        request=PasswordResetConfirmInput,
    )
    def post(self, request: Request) -> Response:
        data = PasswordResetConfirmInput(data=request_body(request))
        data.is_valid(raise_exception=True)
        services.confirm_password_reset(**data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VerifyEmailApi(PublicApiView):
    @operation(
        "verifyEmail",
        tag="auth",
        summary="Verify an email address with the token from the mail",
        responses={200: UserOutput},
        problems=(400, 413, 415, 422, 503),
        public=True,
        request=EmailVerificationInput,
    )
    def post(self, request: Request) -> Response:
        data = EmailVerificationInput(data=request_body(request))
        data.is_valid(raise_exception=True)
        user = services.verify_email(token=data.validated_data["token"])
        return Response(UserOutput(user).data)
