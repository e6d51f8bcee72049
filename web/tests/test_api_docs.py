"""Swagger UI and ReDoc work offline: headless Chromium, its network limited
to the test server, renders the operations with no console error."""

from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


@pytest.fixture
def offline_page(browser, live_server):
    """A page whose requests may reach only the live server: any other
    request is aborted and recorded in `page.foreign_requests`."""
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.console_errors = []
    page.foreign_requests = []
    allowed = urlsplit(live_server.url).netloc

    def only_the_test_server(route):
        url = route.request.url
        if urlsplit(url).netloc == allowed or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            page.foreign_requests.append(url)
            route.abort()

    context.route("**/*", only_the_test_server)
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: page.console_errors.append(f"uncaught: {error}"))
    try:
        yield page
    finally:
        context.close()


def test_swagger_ui_lists_the_operations_from_local_assets(offline_page):
    response = offline_page.goto("/api/docs/")
    assert response.status == 200
    offline_page.wait_for_selector(".opblock", state="attached")
    operations = offline_page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/services/dependencies" in path for path in operations), operations
    assert len(operations) >= 10
    assert offline_page.foreign_requests == []
    assert offline_page.console_errors == []


def test_redoc_lists_the_operations_in_its_menu_from_local_assets(offline_page):
    response = offline_page.goto("/api/redoc/")
    assert response.status == 200
    offline_page.wait_for_selector(".menu-content [data-item-id]", state="attached")
    menu = " ".join(offline_page.locator(".menu-content").all_inner_texts())
    assert "circular dependencies" in menu and "telemetry" in menu, menu[:500]
    assert offline_page.locator(".menu-content [data-item-id*='operation']").count() >= 10
    assert offline_page.foreign_requests == []
    assert offline_page.console_errors == []
