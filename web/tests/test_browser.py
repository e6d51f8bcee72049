"""The pages in a real headless Chromium against a live server with the demo
loaded: the map, search and focus, the service page, exports, no console errors.
Screenshots land in test-artifacts/."""

from io import StringIO

import networkx as nx
import pytest
import yaml
from django.core.management import call_command

from graph.models import Service
from graph.selectors import effective_edges, effective_graph

# serialized_rollback restores what migrations inserted (the graph-version row)
# after the flush, so tests that run later still find it.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Resolves once the map's viewport has not moved for 200 ms (fit animations done).
VIEWPORT_SETTLED = """() => new Promise(resolve => {
  let timer;
  const moved = () => {
    clearTimeout(timer);
    timer = setTimeout(() => { window.sloMap.off('viewport', moved); resolve(); }, 200);
  };
  window.sloMap.on('viewport', moved);
  moved();
})"""
MAP_READY = "window.sloMapState && window.sloMapState.loaded && !window.sloMapState.error"


@pytest.fixture
def demo(tmp_path):
    call_command("seed_demo", keys_file=tmp_path / "demo-keys.json", stdout=StringIO())


def neighbourhood(service_id: str, depth: int) -> set[str]:
    """Services within `depth` hops of `service_id`, up or down the live graph."""
    graph = effective_graph()
    down = nx.single_source_shortest_path_length(graph, service_id, cutoff=depth)
    up = nx.single_source_shortest_path_length(graph.reverse(copy=False), service_id, cutoff=depth)
    return (set(down) | set(up)) - {service_id}


def focused(page) -> dict:
    return page.evaluate(
        "({focus: window.sloMapState.focus, neighbourhood: window.sloMapState.neighbourhood,"
        " faded: window.sloMap.nodes('.faded').map(n => n.id())})"
    )


def click_node(page, service_id: str) -> None:
    """Click a node where Cytoscape drew it on the canvas, once the viewport stopped moving."""
    page.evaluate(VIEWPORT_SETTLED)
    position = page.evaluate(f"window.sloMap.getElementById('{service_id}').renderedPosition()")
    box = page.locator("#cy").bounding_box()
    page.mouse.click(box["x"] + position["x"], box["y"] + position["y"])


def test_map_renders_the_demo_graph_with_its_cycle(staff_page, demo, screenshot):
    page = staff_page
    page.goto("/")
    page.wait_for_function(MAP_READY)

    services = set(Service.objects.active().values_list("service_id", flat=True))
    assert len(services) == 27
    assert set(page.evaluate("window.sloMap.nodes().map(n => n.id())")) == services
    assert page.evaluate("window.sloMap.edges().length") == len(effective_edges(include_stale=True))
    assert sorted(page.evaluate("window.sloMap.edges('.cycle').map(e => e.id())")) == [
        "ad->recommendation", "product-catalog->ad", "recommendation->product-catalog",
    ]
    assert page.locator("#cycle-list").inner_text().strip().startswith("ad → recommendation → product-catalog → ad")
    # Criticality colours and edge kinds are told apart.
    assert page.evaluate("window.sloMap.getElementById('checkout').style('background-color')") == "rgb(209,57,75)"
    assert page.evaluate("window.sloMap.getElementById('frontend->ad').style('line-style')") == "dashed"
    assert page.evaluate("window.sloMap.getElementById('frontend->cart').style('line-style')") == "solid"
    assert page.locator(".legend").is_visible()
    screenshot(page, "service-map")
    assert page.console_errors == []


def test_search_and_click_focus_a_neighbourhood(staff_page, demo, screenshot):
    page = staff_page
    page.goto("/")
    page.wait_for_function(MAP_READY)

    page.fill("#search-input", "checko")
    page.press("#search-input", "Enter")
    page.wait_for_function("window.sloMapState.focus === 'checkout'")
    state = focused(page)
    expected = neighbourhood("checkout", 2)
    assert set(state["neighbourhood"]) == expected
    assert set(state["faded"]) == set(page.evaluate("window.sloMap.nodes().map(n => n.id())")) - expected - {
        "checkout"
    }
    assert page.locator("#focus-title").inner_text() == "Checkout"
    assert page.locator("#focus-page-link").get_attribute("href") == "/services/checkout/"
    assert page.url.endswith("/?focus=checkout")
    screenshot(page, "service-map-focused")

    page.select_option("#depth-select", "1")
    page.wait_for_function("window.sloMapState.depth === 1 && window.sloMapState.focus === 'checkout'")
    page.wait_for_function(f"window.sloMapState.neighbourhood.length === {len(neighbourhood('checkout', 1))}")

    # Show everything again, then focus by clicking a node on the canvas.
    page.click("#reset-button")
    page.wait_for_function("window.sloMapState.focus === null")
    click_node(page, "kafka")
    page.wait_for_function("window.sloMapState.focus === 'kafka'")
    assert set(focused(page)["neighbourhood"]) == neighbourhood("kafka", 1)

    page.fill("#search-input", "no-such-thing")
    page.press("#search-input", "Enter")
    assert "No service matches" in page.locator("#search-status").inner_text()
    assert page.console_errors == []


def test_map_link_opens_focused_and_leads_to_the_service_page(staff_page, demo):
    page = staff_page
    page.goto("/?focus=payment")
    page.wait_for_function("window.sloMapState.focus === 'payment'")
    assert set(focused(page)["neighbourhood"]) == neighbourhood("payment", 2)
    page.click("#focus-page-link")
    page.wait_for_url("**/services/payment/")
    assert page.locator("h1").inner_text().startswith("Payment")
    page.click("#view-on-map")
    page.wait_for_function("window.sloMapState && window.sloMapState.focus === 'payment'")
    assert page.console_errors == []


def test_anonymous_visitor_logs_in_through_the_admin_and_lands_on_the_map(browser, live_server, demo,
                                                                          django_user_model):
    django_user_model.objects.create_user(username="oncall", password="correct horse battery", is_staff=True)
    context = browser.new_context(base_url=live_server.url)
    try:
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto("/services/checkout/")
        assert "/admin/login/?next=/services/checkout/" in page.url
        page.fill("#id_username", "oncall")
        page.fill("#id_password", "correct horse battery")
        page.click("input[type=submit]")
        page.wait_for_url("**/services/checkout/")
        assert page.locator("h1").inner_text().startswith("Checkout")
        assert errors == []
    finally:
        context.close()


def test_service_page_shows_tiers_charts_and_downloads_yaml(staff_page, demo, screenshot):
    page = staff_page
    page.goto("/services/checkout/")
    page.wait_for_function("window.sloServiceState && window.sloServiceState.historyLoaded")

    availability = page.locator('.recommendation[data-metric="availability"]')
    assert availability.locator(".tier h4").all_inner_texts() == ["CONSERVATIVE", "BALANCED", "AGGRESSIVE"]
    for tier in availability.locator(".tier").all():
        assert tier.locator(".tier-target").inner_text().endswith("%")
        assert "Error budget" in tier.inner_text() and "Breach probability" in tier.inner_text()
    latency = page.locator('.recommendation[data-metric="latency_p99"]')
    assert latency.locator(".tier").count() == 3
    assert latency.locator(".tier-target").first.inner_text().startswith("p99 ≤")
    assert availability.locator(".attribution-chart .attribution-bar").count() >= 3
    assert availability.locator(".budget-table tbody tr").count() >= 5

    # The history chart has a point per day with data and the three tier targets.
    days = page.evaluate("window.sloServiceState.days.filter(d => d.availability !== null).length")
    assert days >= 28
    chart = page.locator("#availability-chart svg")
    assert chart.locator(".data-point").count() == days
    assert sorted(chart.locator(".target-line").evaluate_all("ls => ls.map(l => l.dataset.tier)")) == [
        "aggressive", "balanced", "conservative",
    ]
    assert page.locator("#latency-chart svg .data-point").count() == days
    screenshot(page, "service-page", full_page=True)

    downloads = {}
    for export_format in ("openslo", "sloth", "prometheus"):
        with page.expect_download() as download_info:
            page.click(f'.export-button[data-format="{export_format}"]')
        download = download_info.value
        assert download.suggested_filename == f"checkout-slo-balanced.{export_format}.yaml"
        downloads[export_format] = list(yaml.safe_load_all(open(download.path()).read()))
    openslo = downloads["openslo"][0]
    assert openslo["apiVersion"] == "openslo/v1" and openslo["kind"] == "SLO"
    assert downloads["sloth"][0]["version"] == "prometheus/v1"
    assert downloads["sloth"][0]["service"] == "checkout"
    assert downloads["prometheus"][0]["groups"]
    assert page.console_errors == []


def test_pages_of_short_history_services_carry_their_badges(staff_page, demo):
    page = staff_page
    page.goto("/services/astronomy-db/")
    page.wait_for_function("window.sloServiceState.historyLoaded")
    assert page.locator("#quality-badges .badge-no-data").inner_text() == "No data"
    assert page.locator("#no-recommendation").is_visible()
    assert page.locator("#availability-chart svg").count() == 0
    # Regenerating asks the API, which explains why there is no recommendation.
    page.click("#regenerate-button")
    page.wait_for_function("document.getElementById('export-status').textContent.includes('HTTP 422')")
    assert "at least 7 are needed" in page.locator("#export-status").inner_text()
    # Chromium logs the expected 422 response itself; nothing else may appear.
    assert [e for e in page.console_errors if "status of 422" not in e] == []
    page.console_errors.clear()

    page.goto("/services/chatbot/")
    page.wait_for_function("window.sloServiceState.historyLoaded")
    assert page.locator(".badge-cold-start").inner_text() == "Cold start (10 days of data)"
    assert page.locator("#availability-chart svg .data-point").count() == 10
    assert page.console_errors == []


def test_empty_map_says_how_to_add_services(staff_page):
    page = staff_page
    page.goto("/")
    page.wait_for_function("window.sloMapState.loaded")
    assert page.evaluate("window.sloMap.nodes().length") == 0
    assert "No services yet" in page.locator("#map-status").inner_text()
    assert page.console_errors == []


def test_failing_edges_stand_out_on_the_map(staff_page, demo):
    from graph.models import ServiceDependency
    from graph.services.health import EdgeHealth, dependency_health_record

    def measure(source, target, ratio):
        record = ServiceDependency.objects.filter(source__service_id=source, target__service_id=target).first()
        dependency_health_record(discovery_source=record.discovery_source,
                                 measurements=[EdgeHealth(source, target, 10.0, ratio)])

    measure("frontend", "cart", 0.2)
    measure("frontend", "ad", 0.02)
    measure("checkout", "payment", 0.001)
    page = staff_page
    page.goto("/")
    page.wait_for_function(MAP_READY)
    assert page.evaluate("window.sloMap.edges('.failing').map(e => e.id())") == ["frontend->cart"]
    assert page.evaluate("window.sloMap.edges('.erroring').map(e => e.id())") == ["frontend->ad"]
    assert page.evaluate("window.sloMap.getElementById('frontend->cart').style('line-color')") == "rgb(220,38,38)"
    assert page.evaluate("window.sloMap.getElementById('checkout->payment').style('line-color')") != "rgb(220,38,38)"
    assert page.locator(".legend").inner_text().count("fail") >= 2
    assert page.console_errors == []


def test_calibration_page_draws_the_demos_reliability_diagram(staff_page, demo, screenshot):
    from recommendations.selectors import backtest_latest

    run = backtest_latest()  # seed_demo ran the backtest, as the daily batch does
    assert run is not None and run.services >= 20
    page = staff_page
    page.goto("/calibration/")
    rows = page.locator(".calibration-table tbody tr").all_inner_texts()
    assert [row.split("\t")[0] for row in rows] == ["Conservative", "Balanced", "Aggressive"]
    chart = page.locator("#reliability-diagram svg")
    assert chart.locator("line.diagonal").count() == 1
    for name in ("conservative", "balanced", "aggressive"):
        assert chart.locator(f"circle.bin-{name}").count() == len(run.tiers[name]["reliability"])
    screenshot(page, "calibration-page", full_page=True)

    # The service page says, in words, whether the dependency ceiling binds.
    page.goto("/services/shipping/")
    assert "The dependency ceiling binds" in page.locator(".binding").first.inner_text()
    page.goto("/services/checkout/")
    assert "does not bind" in page.locator(".binding").first.inner_text()
    assert "(its calls)" in page.locator(".budget-table").first.inner_text()
