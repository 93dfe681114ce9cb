from django.urls import path, register_converter

from users import views


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

urlpatterns = [
    path("users", views.UserCollectionApi.as_view(), name="users"),
    path("users/me", views.MeApi.as_view(), name="me"),
    path("users/me/password", views.MePasswordApi.as_view(), name="me-password"),
    path("users/<user_id:id>", views.UserDetailApi.as_view(), name="user-detail"),
    path("users/<user_id:id>/activate", views.UserActivateApi.as_view(), name="user-activate"),
    path(
        "users/<user_id:id>/deactivate",
        views.UserDeactivateApi.as_view(),
        name="user-deactivate",
    ),
    path("auth/token", views.TokenApi.as_view(), name="token"),
    path("auth/refresh", views.RefreshApi.as_view(), name="refresh"),
    path("auth/logout", views.LogoutApi.as_view(), name="logout"),
]
