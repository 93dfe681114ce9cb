from django.urls import path, register_converter
from rest_framework.routers import SimpleRouter

from users.views.auth import (
    LogoutApi,
    PasswordResetApi,
    PasswordResetConfirmApi,
    RefreshApi,
    TokenApi,
    VerifyEmailApi,
)
from users.views.users import (
    MeApi,
    MePasswordApi,
    MeSessionApi,
    MeSessionsApi,
    MeVerificationEmailApi,
    UserViewSet,
)


class UserIdConverter:
    """A positive integer below 2^63 without leading zeros; anything else is a 404."""

    regex = "[1-9][0-9]{0,18}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number >= 2**63:
            raise ValueError(value)  # Django answers 404
        return number

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(UserIdConverter, "user_id")

router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("users", UserViewSet, basename="user")

urlpatterns = [
    path("users/me", MeApi.as_view(), name="me"),
    path("users/me/password", MePasswordApi.as_view(), name="me-password"),
    path(
        "users/me/verification-email",
        MeVerificationEmailApi.as_view(),
        name="me-verification-email",
    ),
    path("users/me/sessions", MeSessionsApi.as_view(), name="me-sessions"),
    path("users/me/sessions/<str:session_id>", MeSessionApi.as_view(), name="me-session"),
    path("auth/token", TokenApi.as_view(), name="token"),
    path("auth/password-reset", PasswordResetApi.as_view(), name="password-reset"),
    path(
        "auth/password-reset/confirm",
        PasswordResetConfirmApi.as_view(),
        name="password-reset-confirm",
    ),
    path("auth/verify-email", VerifyEmailApi.as_view(), name="verify-email"),
    path("auth/refresh", RefreshApi.as_view(), name="refresh"),
    path("auth/logout", LogoutApi.as_view(), name="logout"),
    *router.urls,
]
