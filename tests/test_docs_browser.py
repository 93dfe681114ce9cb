"""`/docs` in a real browser: Swagger UI shows every operation of the contract,
stays on the service's own origin, and its Authorize dialog logs in through the
OAuth2 password form so that "Try it out" on `GET /api/v1/users/me` works.

Runs Debian's Chromium (`apt-get install chromium`) through Playwright, without
`playwright install`. Without Chromium the tests are skipped, unless
`CONTRACT_REQUIRE_BROWSER=1` (as in CI) makes that a failure. A failing test
keeps a screenshot of the page and names it in the failure.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from conftest import Target
from contract import get_contract
from helpers import ME, Api

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Swagger UI and its assets do not touch the database: one pass per service is enough.
pytestmark = pytest.mark.mode_independent

# Generous for a busy 2-core machine; every wait below ends as soon as its
# condition holds.
TIMEOUT_MS = 20_000


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path:
        return path
    reason = "Chromium is not installed (apt-get install chromium)"
    if os.environ.get("CONTRACT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and CONTRACT_REQUIRE_BROWSER=1 requires it")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope, not session: while Playwright's sync API is alive it keeps
    # its asyncio loop marked as running, which would break `asyncio.run()` in
    # any test that comes later.
    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


@dataclass
class DocsPage:
    """One browser page on a service's `/docs`, with every request it made."""

    page: Page
    base_url: str
    screenshot: Path
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def open(self) -> None:
        self.page.goto(f"{self.base_url}/docs")
        # Swagger UI has fetched /openapi.json and rendered the operations.
        expect(self.page.locator(".opblock").first).to_be_visible(timeout=TIMEOUT_MS)

    def foreign_requests(self) -> list[str]:
        home = origin(self.base_url)
        return [
            url
            for url in self.requests
            if not url.startswith(("data:", "blob:")) and origin(url) != home
        ]

    @contextlib.contextmanager
    def kept_on_failure(self) -> Iterator[None]:
        """Save a screenshot when the block fails, and name it in the failure."""
        try:
            yield
        except Exception as exc:
            with contextlib.suppress(Exception):
                self.page.screenshot(path=self.screenshot, full_page=True)
                exc.add_note(f"screenshot of the page: {self.screenshot}")
            if self.errors:
                exc.add_note(f"errors in the page: {self.errors}")
            raise


@pytest.fixture
def docs(browser: Browser, target: Target, tmp_path: Path) -> Iterator[DocsPage]:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    docs = DocsPage(page, target.base_url, tmp_path / f"docs-{target.name}.png")
    context.on("request", lambda request: docs.requests.append(request.url))
    page.on("pageerror", lambda error: docs.errors.append(str(error)))
    yield docs
    context.close()


def normalized(path: str) -> str:
    """Path parameter names may differ between services (`{id}`, `{user_id}`)."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_docs_render_every_operation_of_the_contract(docs: DocsPage) -> None:
    expected = sorted(
        (op.method.upper(), normalized(op.path)) for op in get_contract().operations()
    )
    with docs.kept_on_failure():
        docs.open()
        blocks = docs.page.locator(".opblock")
        # Every operation once: a block per (method, path), not a mention of its
        # operationId (links name getUser and others too). On a mismatch the
        # comparison below names the operations that differ.
        with contextlib.suppress(AssertionError):
            expect(blocks).to_have_count(len(expected), timeout=TIMEOUT_MS)
        shown = blocks.evaluate_all(
            """blocks => blocks.map(block => [
                block.querySelector('.opblock-summary-method').textContent.trim(),
                block.querySelector('.opblock-summary-path').dataset.path,
            ])"""
        )
        assert sorted((method, normalized(path)) for method, path in shown) == expected
        assert docs.errors == []


def test_docs_make_no_request_outside_the_service(docs: DocsPage) -> None:
    with docs.kept_on_failure():
        docs.open()
        # Let late requests (fonts, images, a validator badge) start too.
        docs.page.wait_for_load_state("networkidle")
        assert any(url.endswith("/openapi.json") for url in docs.requests)
        assert docs.foreign_requests() == []


def test_docs_authorize_then_try_it_out_on_the_own_account(docs: DocsPage, api: Api) -> None:
    account = api.register(name="Docs Reader", login=False)
    page = docs.page
    with docs.kept_on_failure():
        docs.open()

        # The Authorize dialog: OAuth2 password flow against the token endpoint.
        page.locator(".auth-wrapper button.authorize").click()
        dialog = page.locator(".modal-ux")
        dialog.locator("#oauth_username").fill(account.email)
        dialog.locator("#oauth_password").fill(account.password)
        with page.expect_response(lambda r: r.url.endswith("/api/v1/auth/token")) as login:
            dialog.locator("button.authorize").click()
        assert login.value.status == 200, login.value.text()
        # Authorized: the dialog now offers to log out.
        expect(dialog.locator("button", has_text="Logout")).to_be_visible()
        dialog.locator("button.btn-done").click()
        expect(dialog).to_be_hidden()

        # Try it out -> Execute on GET /api/v1/users/me, with the bearer token.
        me = page.locator(f'.opblock-get:has(.opblock-summary-path[data-path="{ME}"])')
        me.locator(".opblock-summary").click()
        me.get_by_role("button", name="Try it out").click()
        with page.expect_response(
            lambda r: r.url == f"{docs.base_url}{ME}" and r.request.method == "GET"
        ) as answer:
            me.locator("button.execute").click()
        assert answer.value.status == 200, answer.value.text()
        authorization = answer.value.request.header_value("authorization") or ""
        assert authorization.startswith("Bearer ")
        body = me.locator(".live-responses-table .response-col_description .microlight").first
        expect(body).to_contain_text(f'"email": "{account.email}"')
        assert docs.foreign_requests() == []
