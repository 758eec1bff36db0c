"""Browser tests: Playwright driving Debian's Chromium (/usr/bin/chromium) against the live server.

Reusable fixtures: `browser` (session), `page` (fresh context per test), `admin_login(page, live_server,
user, password="password")`. Tests here get the `browser` marker automatically and need a
transactional database (live_server runs in another thread). Never `playwright install`: the browser is
the Debian package. In CI (CI set) a missing Chromium fails the run instead of skipping it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API runs an event loop in this thread; Django would refuse ORM calls from it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before `-m` selection reads the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"Chromium not found at {CHROMIUM}: apt-get install -y chromium (make test does it as root)"
        if os.environ.get("CI"):
            pytest.fail(message)  # browser tests must really run in CI
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def admin_login() -> Callable[..., None]:
    def login(page: Any, live_server: Any, user: Any, password: str = "password") -> None:
        page.goto(f"{live_server.url}/admin/login/?next=/admin/")
        page.fill("#id_username", user.get_username())
        page.fill("#id_password", password)
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")

    return login
