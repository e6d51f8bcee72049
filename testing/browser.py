"""Browser fixtures: Debian's headless Chromium driven by Playwright for Python.

* `browser` (session): one Chromium process for the whole run, launched from
  `/usr/bin/chromium` (no Playwright browser download needed).
* `staff_page` (per test): a fresh browser context logged in as a staff user
  of the `live_server`, downloads enabled. The page collects console errors
  and uncaught exceptions in `page.console_errors`; the fixture fails the test
  at teardown if any were seen, so every browser test also checks that.
* `screenshot(page, name)`: saves `test-artifacts/<name>.png` (git-ignored,
  kept as a CI artifact) and returns its path.
"""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
ARTIFACTS_DIR = BASE_DIR / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1400, "height": 900}


def screenshot(page, name: str, *, full_page: bool = False) -> Path:
    """Save a PNG of the page under test-artifacts/ and return its path."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    path = ARTIFACTS_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (set CHROMIUM_PATH)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread, which
    # makes Django refuse ORM calls from the test body; the tests are plain
    # synchronous code, so the check does not apply to them.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(username="sre", password="unused-in-browser", is_staff=True)


@pytest.fixture
def staff_page(browser, live_server, staff_user, client) -> Iterator:
    """A page logged in as a staff user; fails the test on console errors."""
    client.force_login(staff_user)
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True, base_url=live_server.url)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.console_errors = []
    page.on(
        "console",
        lambda message: page.console_errors.append(f"console.{message.type}: {message.text}")
        if message.type == "error"
        else None,
    )
    page.on("pageerror", lambda error: page.console_errors.append(f"uncaught: {error}"))
    try:
        yield page
        assert page.console_errors == [], f"browser console errors: {page.console_errors}"
    finally:
        context.close()


@pytest.fixture(name="screenshot")
def screenshot_fixture() -> Callable:
    """`screenshot(page, name, full_page=False)`: see `screenshot` above."""
    return screenshot
