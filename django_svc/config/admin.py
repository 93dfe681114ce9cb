"""The Django admin's site, with its login form throttled as the API's login is."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from api.errors import THROTTLED, problem_response
from users.throttling import client_address, login_key, release_attempt, reserve_attempt


class AdminSite(admin.AdminSite):
    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        if request.method != "POST":
            return super().login(request, extra_context)
        username = str(request.POST.get("username", ""))
        key = login_key(address=client_address(request), username=username)
        retry_after = reserve_attempt(key=key)
        if retry_after is not None:
            return throttled_page(retry_after)
        response = super().login(request, extra_context)
        if request.user.is_authenticated:
            release_attempt(key=key)
        return response


def throttled_page(retry_after: int) -> HttpResponse:
    return problem_response(429, THROTTLED, headers={"Retry-After": str(retry_after)})
