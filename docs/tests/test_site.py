"""The docs site in a real browser, as a reader uses it: every page opens with no error
and no request to another host, its FastAPI | Django | Flask tabs switch and each shows
that service's code, and search finds pages with no network.

Builds the site with `mkdocs build --strict` into a temporary folder, serves it on a
free loopback port, and drives Debian's Chromium (`apt-get install chromium`) through
Playwright without `playwright install`. Without Chromium the tests are skipped unless
`REQUIRE_BROWSER=1` (as in CI). A failing page leaves a screenshot, named in the
failure.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from playwright.sync_api import Browser, Page, expect, sync_playwright

DOCS_DIR = Path(__file__).resolve().parent.parent
MKDOCS_YML = DOCS_DIR / "mkdocs.yml"
FRAMEWORKS = ("FastAPI", "Django", "Flask")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 20_000


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        cwd=DOCS_DIR,
        check=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    return folder


@pytest.fixture(scope="session")
def base_url(site: Path) -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def nav_pages(nav: Any) -> list[str]:
    """The Markdown files of mkdocs.yml's nav, in order."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in nav_pages(value)]
    return [page for item in nav for page in nav_pages(item)]


def url_path(markdown: str) -> str:
    stem = markdown.removesuffix(".md")
    return "/" if stem == "index" else f"/{stem}/"


PAGES = [url_path(page) for page in nav_pages(yaml.safe_load(MKDOCS_YML.read_text())["nav"])]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        reason = "Chromium is not installed (apt-get install chromium)"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}, and REQUIRE_BROWSER=1 requires it")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Reader:
    """One browser tab, with what it requested and every error the page reported."""

    def __init__(self, browser: Browser, base_url: str, screenshot: Path) -> None:
        self.context = browser.new_context()
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page: Page = self.context.new_page()
        self.base_url = base_url
        self.screenshot = screenshot
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on(
            "console",
            lambda message: self.errors.append(message.text) if message.type == "error" else None,
        )

    def foreign_requests(self) -> list[str]:
        home = urlsplit(self.base_url).netloc
        return [
            url
            for url in self.requests
            if not url.startswith(("data:", "blob:")) and urlsplit(url).netloc != home
        ]

    @contextlib.contextmanager
    def kept_on_failure(self) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            with contextlib.suppress(Exception):
                self.page.screenshot(path=self.screenshot, full_page=True)
                exc.add_note(f"screenshot of the page: {self.screenshot}")
            raise


@pytest.fixture
def reader(browser: Browser, base_url: str, tmp_path: Path) -> Iterator[Reader]:
    reader = Reader(browser, base_url, tmp_path / "page.png")
    yield reader
    reader.context.close()


def test_every_page_of_the_nav_was_built(site: Path) -> None:
    assert len(PAGES) >= 16
    for path in PAGES:
        assert (site / path.strip("/") / "index.html").is_file(), path


@pytest.mark.parametrize("path", PAGES)
def test_a_page_shows_the_three_services_and_stays_on_its_host(reader: Reader, path: str) -> None:
    with reader.kept_on_failure():
        reader.page.goto(reader.base_url + path)
        expect(reader.page.locator("h1").first).to_be_visible()
        tab_sets = reader.page.locator(".tabbed-set")
        assert tab_sets.count() > 0, "no FastAPI | Django | Flask tabs"
        first = tab_sets.first
        labels = first.locator(".tabbed-labels > label")
        assert labels.all_inner_texts() == list(FRAMEWORKS)
        for index, framework in enumerate(FRAMEWORKS):
            labels.nth(index).click()
            block = first.locator(".tabbed-content > .tabbed-block").nth(index)
            expect(block).to_be_visible()
            code = block.locator("pre code").first
            expect(code).to_be_visible()
            assert code.inner_text().strip(), f"the {framework} tab shows no code"
            # Every code block names the file it was included from.
            filenames = " ".join(block.locator(".filename").all_inner_texts()).lower()
            assert framework.lower() in filenames, (framework, filenames)
        assert reader.errors == [], reader.errors
        assert reader.foreign_requests() == [], reader.foreign_requests()


def test_a_tab_chosen_on_one_block_is_chosen_on_every_block(reader: Reader) -> None:
    with reader.kept_on_failure():
        reader.page.goto(reader.base_url + "/services/")
        reader.page.locator(".tabbed-labels > label", has_text="Django").first.click()
        blocks = reader.page.locator(".tabbed-set")
        for index in range(blocks.count()):
            django = blocks.nth(index).locator(".tabbed-content > .tabbed-block").nth(1)
            expect(django).to_be_visible()
            expect(django.locator(".filename").first).to_contain_text("django_svc/")


def test_search_finds_pages_without_a_network(reader: Reader) -> None:
    with reader.kept_on_failure():
        reader.page.goto(reader.base_url + "/")
        reader.page.locator("label.md-search__icon, .md-search__input").first.click()
        reader.page.locator(".md-search__input").fill("rotation")
        results = reader.page.locator(".md-search-result__item")
        expect(results.first).to_be_visible()
        assert reader.foreign_requests() == [], reader.foreign_requests()
        assert reader.errors == [], reader.errors
