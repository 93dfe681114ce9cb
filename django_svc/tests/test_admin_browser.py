"""The Django admin as a person uses it: headless Chromium logs in through the form, opens
a user, changes the name, saves, and sees Django's success message.

Debian's Chromium, driven by Playwright without `playwright install`. Without it the
test is skipped, unless `REQUIRE_BROWSER=1` (as in CI) makes that a failure. The page
is kept as a screenshot in the test's temporary folder.
"""

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from pytest_django.live_server_helper import LiveServer

from users.models import User

PASSWORD = "a-long-password"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
TIMEOUT_MS = 20_000


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        reason = "Chromium is not installed (apt-get install chromium)"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}, and REQUIRE_BROWSER=1 requires it")
        pytest.skip(reason)
    return path


@pytest.mark.django_db(transaction=True)
def test_an_admin_logs_in_changes_a_name_and_saves(live_server: LiveServer, tmp_path: Path) -> None:
    executable = chromium()
    User.objects.create_superuser("root@example.com", PASSWORD, name="Root")
    ada = User.objects.create_user("ada@example.com", PASSWORD, name="Ada")
    screenshot = tmp_path / "admin-saved.png"
    # Playwright's sync API runs an event loop in this thread: no ORM call until it is done.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        try:
            page.goto(f"{live_server.url}/admin/")
            page.fill("#id_username", "root@example.com")
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            expect(page.locator("#user-tools")).to_contain_text("root@example.com")

            page.goto(f"{live_server.url}/admin/users/user/{ada.pk}/change/")
            page.fill("#id_name", "Ada Lovelace")
            page.click("input[name=_save]")
            expect(page.locator(".messagelist .success")).to_contain_text(
                "was changed successfully"
            )
        finally:
            page.screenshot(path=screenshot, full_page=True)
            browser.close()
    ada.refresh_from_db()
    assert ada.name == "Ada Lovelace"
    assert screenshot.stat().st_size > 0
