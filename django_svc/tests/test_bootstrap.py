from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from users.models import User
from users.services import ensure_first_admin


@pytest.mark.django_db
@override_settings(FIRST_ADMIN_EMAIL="Boss@Example.com", FIRST_ADMIN_PASSWORD="boss-password")
def test_first_admin_is_created_once() -> None:
    admin = ensure_first_admin()
    assert admin is not None
    assert admin.email == "boss@example.com"
    assert admin.is_admin
    assert admin.is_superuser
    assert admin.is_staff
    assert admin.is_active
    assert admin.name == "Admin"
    assert ensure_first_admin() == admin
    call_command("bootstrap_admin")
    assert User.objects.count() == 1


@pytest.mark.django_db
@override_settings(FIRST_ADMIN_EMAIL="taken@example.com", FIRST_ADMIN_PASSWORD="boss-password")
def test_an_existing_account_is_left_as_it_is() -> None:
    User.objects.create_user("taken@example.com", "some-password", name="Taken")
    ensure_first_admin()
    assert not User.objects.get().is_admin


@pytest.mark.django_db
def test_createsuperuser_with_the_custom_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-password")
    call_command("createsuperuser", "--noinput", email="Root@Example.com", name="Root", verbosity=0)
    user = User.objects.get()
    assert user.email == "root@example.com"
    assert user.is_admin
    assert user.has_perm("users.change_user")


@pytest.mark.django_db
def test_admin_site_lists_users() -> None:
    User.objects.create_superuser("root@example.com", "a-long-password", name="Root")
    browser = Client()
    assert browser.login(username="root@example.com", password="a-long-password")
    response = browser.get("/admin/users/user/?q=root")
    assert response.status_code == 200
    assert b"root@example.com" in response.content
    assert browser.get("/static/admin/css/base.css").status_code == 200


@pytest.mark.django_db
def test_the_admin_login_form_is_throttled_like_the_api_login(settings: Any) -> None:
    User.objects.create_superuser("root@example.com", "a-long-password", name="Root")
    browser = Client()
    form = {"username": "root@example.com", "password": "wrong password", "next": "/admin/"}
    for _ in range(settings.LOGIN_MAX_FAILURES):
        assert browser.post("/admin/login/", form).status_code == 200  # the form again
    right = {**form, "password": "a-long-password"}
    throttled = browser.post("/admin/login/", right)
    assert throttled.status_code == 429
    assert 1 <= int(throttled["Retry-After"]) <= settings.LOGIN_FAILURE_WINDOW_SECONDS
    assert browser.get("/admin/").status_code == 302  # still not logged in
