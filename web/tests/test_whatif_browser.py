"""The what-if parts of the pages in a real headless Chromium: the constraint
analysis of the balanced target under the tiers, the what-if box, and the
impact highlighted on the map (at-risk services distinct)."""

import pytest

from graph.tests.factories import ServiceFactory
from recommendations.models import SloRecommendation
from slos.tests.whatif_fixtures import build_shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WHATIF_DONE = "window.sloWhatIf && window.sloWhatIf.done"


@pytest.fixture
def shop():
    build_shop()
    # checkout's balanced tier: 99.8%, beyond what cart x fraud x payment (99.78%) allow.
    recommendation = SloRecommendation.objects.get(service__service_id="checkout")
    recommendation.tiers = {**recommendation.tiers, "balanced": {**recommendation.tiers["balanced"], "target": 0.998}}
    recommendation.save(update_fields=["tiers"])


def test_service_page_shows_the_constraint_analysis_of_the_balanced_target(staff_page, shop, screenshot):
    page = staff_page
    page.goto("/services/checkout/")
    page.wait_for_function("window.sloWhatIf && window.sloWhatIf.constraint")
    assert page.locator("#constraint-target").inner_text() == "99.8%"
    rows = page.locator("#constraint-table tbody tr")
    assert rows.count() == 3
    assert [rows.nth(i).get_attribute("data-service") for i in range(3)] == ["cart", "fraud", "payment"]
    # The equal split for N = 3: 1 - 0.002 / 4 = 99.95%, met by cart only.
    assert rows.nth(0).locator("td").nth(3).inner_text() == "99.95%"
    assert page.locator("#constraint-table tr.short").count() == 2
    assert "not achievable" in page.locator("#constraint-summary").inner_text()
    warning = page.locator("#constraint-warnings li").first.inner_text()
    assert "payment (99.9%)" in warning and "fraud (99.93%)" in warning and "cart" not in warning
    # Under the tiers: the what-if card follows the recommendations.
    assert page.evaluate(
        "document.getElementById('recommendations').compareDocumentPosition(document.getElementById('whatif'))"
        " & Node.DOCUMENT_POSITION_FOLLOWING") > 0
    screenshot(page, "whatif-constraint", full_page=True)


def test_whatif_box_lists_the_impact_and_refuses_bad_input(staff_page, shop, screenshot):
    page = staff_page
    page.goto("/services/payment/")
    page.wait_for_function("window.sloWhatIf && (window.sloWhatIf.constraint || window.sloWhatIf.error)")
    assert page.locator("#whatif-map-link").is_hidden()  # nothing to highlight before a run
    page.fill("#whatif-availability", "99.5")
    page.click("#whatif-run")
    page.wait_for_function(WHATIF_DONE)
    rows = page.locator("#whatif-table tbody tr")
    assert rows.count() == 6
    assert sorted(page.locator("#whatif-table tr.at-risk").evaluate_all(
        "rows => rows.map(r => r.dataset.service)")) == ["checkout", "frontend"]
    assert page.locator("#whatif-summary").inner_text().startswith("6 services upstream")
    # Most harmed first: admin and cart lose all of payment's 0.4 pp, checkout
    # 0.4 pp x 0.9995 x 0.9993, the rest 0.4 pp x 0.9991 x 0.9995.
    assert [rows.nth(i).get_attribute("data-service") for i in range(3)] == ["admin", "cart", "checkout"]
    assert [rows.nth(i).locator("td").nth(4).inner_text() for i in (0, 2, 3)] == [
        "-0.4 pp", "-0.3995 pp", "-0.3994 pp"]
    screenshot(page, "whatif-impact", full_page=True)

    page.fill("#whatif-availability", "abc")
    page.click("#whatif-run")
    page.wait_for_function(WHATIF_DONE)
    assert "availability" in page.locator("#whatif-status").inner_text()
    assert page.locator("#whatif-table").is_hidden() and page.locator("#whatif-map-link").is_hidden()
    # Chromium logs the expected 422 response itself; nothing else may appear.
    assert [e for e in page.console_errors if "status of 422" not in e] == []
    page.console_errors.clear()


def test_map_highlights_the_impacted_services_with_the_at_risk_ones_distinct(staff_page, shop, screenshot):
    page = staff_page
    page.goto("/services/payment/")
    page.fill("#whatif-availability", "99.5")
    page.click("#whatif-run")
    page.wait_for_function(WHATIF_DONE)
    page.click("#whatif-map-link")
    page.wait_for_function(WHATIF_DONE + " && window.sloWhatIf.impact")

    def with_class(name: str) -> list[str]:
        return sorted(page.evaluate(f"window.sloMap.nodes('.{name}').map(n => n.id())"))

    assert with_class("whatif-source") == ["payment"]
    assert with_class("whatif-at-risk") == ["checkout", "frontend"]
    assert with_class("whatif-impacted") == ["admin", "cart", "fraud", "mobile"]
    # Everything else steps back; at-risk nodes are drawn unlike the others.
    assert set(with_class("faded")) >= {"email", "queue"}
    at_risk = page.evaluate("window.sloMap.getElementById('checkout').style('border-color')")
    impacted = page.evaluate("window.sloMap.getElementById('cart').style('border-color')")
    assert at_risk != impacted
    assert "6 service(s) upstream" in page.locator("#whatif-map-status").inner_text()
    screenshot(page, "whatif-map")


def test_service_without_a_balanced_target_says_so_without_asking(staff_page, shop):
    ServiceFactory(service_id="newcomer")
    page = staff_page
    page.goto("/services/newcomer/")
    page.wait_for_function("document.getElementById('constraint-status').textContent.includes('No balanced')")
    assert page.locator("#constraint-table").is_hidden()
