"""The SLO pages in a real headless Chromium with the demo loaded: the fleet
list with two health bands, sorting and filtering; decisions on the service
page (modify and reject with a rationale, then the trail); the map's rings.
Screenshots land in test-artifacts/."""

from io import StringIO

import pytest
from django.core.management import call_command

from slos.models import ServiceLevelObjective, SloChange, SloStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def demo(tmp_path):
    call_command("seed_demo", keys_file=tmp_path / "demo-keys.json", stdout=StringIO())


def rows(page) -> list[list[str]]:
    return page.eval_on_selector_all("#slo-table tbody tr[data-service]",
                                     "rs => rs.map(r => [r.dataset.service, r.dataset.health])")


def pairs(page) -> list[tuple[str, str]]:
    return [tuple(row) for row in rows(page)]


def test_fleet_page_lists_health_bands_sorts_and_filters(staff_page, demo, screenshot):
    page = staff_page
    page.goto("/slos/")
    listed = rows(page)
    assert sorted(s for s, _ in listed) == ["cart", "checkout", "frontend", "payment", "product-catalog"]
    assert dict(listed)["frontend"] == "critical"
    assert len({h for _, h in listed}) >= 2
    assert page.locator("tr[data-service=frontend] .firing-page").is_visible()
    screenshot(page, "slos-fleet", full_page=True)

    page.click("#sort-budget")
    page.wait_for_url("**ordering=budget_remaining*")
    budgets = page.eval_on_selector_all("#slo-table tbody tr[data-service]", "rs => rs.map(r => +r.dataset.budget)")
    assert budgets == sorted(budgets) and len(budgets) == 5
    page.select_option("select[name=health]", "critical")
    page.click("#slo-filters button[type=submit]")
    page.wait_for_url("**health=critical*")
    assert pairs(page) == [("frontend", "critical")]
    page.goto("/slos/?health=nonsense")
    assert page.locator("#filter-errors").is_visible() and rows(page) == []


def test_service_page_modifies_and_rejects_with_a_rationale(staff_page, demo, screenshot):
    page = staff_page
    page.goto("/services/checkout/")
    page.wait_for_function("window.sloRecordState && window.sloRecordState.charts === 1")
    record = page.locator("article.slo-record[data-metric=availability]")
    assert "Version 1 · balanced" in record.inner_text()
    assert page.locator(".burn-down .burn-line").count() == 1

    form = page.locator("form.decision[data-metric=availability]")
    balanced = ServiceLevelObjective.objects.get(service__service_id="checkout", state="active").target
    target_percent = round((balanced + (1 - balanced) / 2) * 100, 4)
    form.locator("input[name=target]").fill(str(target_percent))
    form.locator("textarea[name=rationale]").fill("Checkout carries revenue: tighter than balanced")
    form.locator("button[data-action=modify]").click()
    # The page reloads with the new SLO of record (not scored yet: no burn-down).
    page.wait_for_selector("article.slo-record:has-text('Version 2 · custom')", timeout=15_000)

    latency = page.locator("form.decision[data-metric=latency_p99]")
    latency.locator("select[name=tier]").select_option("aggressive")
    latency.locator("textarea[name=rationale]").fill("p99 aggressive is beyond the payment provider")
    latency.locator("button[data-action=reject]").click()
    page.wait_for_selector("#slo-trail tr[data-action=reject]")

    trail = page.locator("#slo-trail tbody tr")
    assert [trail.nth(i).get_attribute("data-action") for i in range(3)] == ["reject", "modify", "accept"]
    assert "Checkout carries revenue" in trail.nth(1).inner_text() and "sre" in trail.nth(1).inner_text()
    active = ServiceLevelObjective.objects.get(service__service_id="checkout", state="active")
    assert active.version == 2 and active.target == pytest.approx(target_percent / 100)
    assert SloChange.objects.filter(service__service_id="checkout").count() == 3
    # Score now: the new SLO gets its status and burn-down at once.
    page.click("#slo-refresh")
    page.wait_for_function("window.sloRecordState && window.sloRecordState.charts === 1", timeout=15_000)
    assert page.locator("article.slo-record .budget-left").is_visible()
    page.locator("#slos").scroll_into_view_if_needed()
    screenshot(page, "service-slos", full_page=True)


def test_map_rings_each_node_by_slo_health(staff_page, demo, screenshot):
    page = staff_page
    page.goto("/")
    page.wait_for_function("window.sloRingState && window.sloRingState.loaded")
    health = page.evaluate("window.sloRingState.health")
    assert health == dict(SloStatus.objects.values_list("slo__service__service_id", "health"))
    assert health["frontend"] == "critical"
    colours = {"healthy": "rgb(31,138,91)", "warning": "rgb(208,138,0)", "critical": "rgb(209,57,75)",
               "exhausted": "rgb(122,16,32)", "unknown": "rgb(138,154,171)"}
    for service_id, band in health.items():
        assert page.evaluate(f"window.sloMap.getElementById('{service_id}').style('outline-color')") == colours[band]
    # A service without an SLO of record has no ring.
    assert page.evaluate("window.sloMap.getElementById('email').style('outline-width')") in ("0px", "0")
    assert page.locator("#slo-legend").is_visible()
    screenshot(page, "service-map-slo-rings")
