"""The pages rendered by Django: access control, catalog facts, edges,
recommendation tiers, badges, the 404 page and the static files they need."""

import hashlib
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from graph.tests.factories import ServiceDependencyFactory, ServiceFactory
from recommendations.models import SloRecommendation

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user(username="sre", password="x", is_staff=True)
    client.force_login(user)
    return client


def availability_recommendation(service, **quality) -> SloRecommendation:
    now = timezone.now()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    tier = {
        "target_raw": 0.0,
        "historical_breach_rate": 0.0,
        "historical_breaches": 0,
        "historical_windows": 3,
    }
    return SloRecommendation.objects.create(
        service=service,
        sli_type="availability",
        metric="availability",
        window_days=28,
        tiers={
            "conservative": {**tier, "target": 0.995, "estimated_breach_probability": 0.01,
                             "confidence_interval": [0.9941, 0.9962], "error_budget_minutes": 201.6},
            "balanced": {**tier, "target": 0.998, "estimated_breach_probability": 0.05,
                         "confidence_interval": [0.9972, 0.9985], "error_budget_minutes": 80.64},
            "aggressive": {**tier, "target": 0.999, "estimated_breach_probability": 0.2,
                           "confidence_interval": [0.9986, 0.9993], "error_budget_minutes": 40.32},
        },
        explanation={
            "summary": "Checkout met 99.91% over 30 days; the balanced target leaves room for variance.",
            "observed_availability": 0.9991,
            "feature_attributions": [
                {"feature": "variance", "contribution": 0.0008, "description": "day-to-day variation"},
                {"feature": "rounding", "contribution": 0.0003, "description": "rounded to a human value"},
            ],
            "dependency_impact": {
                "composite_availability_bound": 0.9982,
                "bottleneck_service": "payment",
                "dependencies": [
                    {"service_id": "payment", "availability": 0.999, "budget_share": 0.62,
                     "flags": ["over_half_of_budget"]},
                ],
            },
        },
        data_quality={"completeness": 0.33, "days_with_data": 10, "lookback_days": 90, "is_cold_start": True,
                      "sample_count": 900, "low_traffic": True, "rejected_points": 0, **quality},
        # Like the recommender: the 90 complete days up to yesterday, the end an exclusive midnight.
        lookback_window_start=midnight - timedelta(days=90),
        lookback_window_end=midnight,
        generated_at=now,
        expires_at=now + timedelta(hours=24),
    )


@pytest.mark.parametrize("path", ["/", "/services/checkout/", "/services/checkout/sli-history.json",
                                  "/calibration/"])
def test_pages_send_anonymous_users_to_the_admin_login(client, path):
    ServiceFactory(service_id="checkout")
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={path}"


def test_pages_refuse_users_who_are_not_staff(client, django_user_model):
    ServiceFactory(service_id="checkout")
    client.force_login(django_user_model.objects.create_user(username="viewer", password="x"))
    response = client.get("/services/checkout/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_map_page_loads_the_vendored_graph_library_and_no_cdn(staff_client):
    response = staff_client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)
    assert "/static/vendor/cytoscape/cytoscape.min.js" in scripts
    assert all(src.startswith("/static/") for src in scripts), scripts
    assert "Legend" in html
    assert 'id="search-input"' in html


def test_map_page_passes_the_focus_parameter_to_the_script(staff_client):
    html = staff_client.get("/?focus=checkout").content.decode()
    assert '<script id="map-focus" type="application/json">"checkout"</script>' in html


def test_vendored_library_ships_with_its_licence_and_version():
    vendor = Path(__file__).resolve().parents[2] / "static" / "vendor" / "cytoscape"
    assert "Permission is hereby granted" in (vendor / "LICENSE").read_text()
    version = (vendor / "VERSION").read_text()
    assert re.search(r"cytoscape \d+\.\d+\.\d+", version)
    recorded = re.search(r"sha256\(cytoscape.min.js\) = ([0-9a-f]{64})", version).group(1)
    assert hashlib.sha256((vendor / "cytoscape.min.js").read_bytes()).hexdigest() == recorded


def test_service_page_lists_catalog_facts_and_live_edges(staff_client):
    checkout = ServiceFactory(service_id="checkout", display_name="Checkout", team="payments",
                              criticality="critical", tags=["pci"])
    payment = ServiceFactory(service_id="payment")
    ServiceDependencyFactory(source=checkout, target=payment, protocol="grpc", timeout_ms=800)
    ServiceDependencyFactory(source=ServiceFactory(service_id="frontend"), target=checkout, criticality="soft")
    ServiceDependencyFactory(source=checkout, target=ServiceFactory(service_id="old-cache"), is_stale=True)
    ServiceDependencyFactory(
        source=checkout, target=ServiceFactory(service_id="legacy", retired_at=timezone.now())
    )

    response = staff_client.get("/services/checkout/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Checkout" in html and "payments" in html and "pci" in html
    assert 'href="/services/payment/"' in html and "800 ms timeout" in html
    assert 'href="/services/frontend/"' in html
    # Stale edges and edges to retired services are not dependencies any more.
    assert "old-cache" not in html and "legacy" not in html
    assert 'href="/?focus=checkout"' in html
    assert f'href="/admin/graph/service/{checkout.pk}/change/"' in html
    assert 'id="no-recommendation"' in html
    assert re.search(r'class="export-button" data-format="openslo" disabled', html)


def test_service_page_shows_edge_health(staff_client):
    checkout = ServiceFactory(service_id="checkout")
    ServiceDependencyFactory(source=checkout, target=ServiceFactory(service_id="payment"),
                             discovery_source="otel_service_graph", request_rate=2.5, failure_ratio=0.12)
    ServiceDependencyFactory(source=checkout, target=ServiceFactory(service_id="cart"), failure_ratio=0.004)
    html = staff_client.get("/services/checkout/").content.decode()
    assert '<span class="edge-failing">12%</span> <span class="muted">· 2.50/s</span>' in html
    assert '<span class="">&lt;1%</span>' in html


def test_service_page_shows_the_three_tiers_explanation_and_badges(staff_client):
    checkout = ServiceFactory(service_id="checkout")
    availability_recommendation(checkout)

    html = staff_client.get("/services/checkout/").content.decode()
    tiers = re.findall(r'<div class="tier tier-(\w+)" data-tier="\w+">\s*<h4>\w+</h4>\s*'
                       r'<p class="tier-target">([^<]+)</p>', html)
    assert tiers == [("conservative", "99.5%"), ("balanced", "99.8%"), ("aggressive", "99.9%")]
    assert "202 min" in html and "81 min" in html and "40 min" in html
    assert "99.41% – 99.62%" in html
    assert "0 of 3 past windows" in html
    assert "the balanced target leaves room for variance" in html
    assert "+0.0800 pp" in html
    assert "over half of budget" in html and "62%" in html
    assert "Cold start (10 days of data)" in html and "Low traffic" in html
    assert 'data-format="sloth">' in html and "disabled" not in re.search(
        r'<button type="button" class="export-button" data-format="sloth"[^>]*>', html
    ).group(0)


def test_unknown_service_gets_the_html_404_page(staff_client):
    response = staff_client.get("/services/no-such-service/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "Back to the service map" in response.content.decode()


def test_collectstatic_gathers_the_page_assets(tmp_path, settings):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"}}
    call_command("collectstatic", interactive=False, verbosity=0)
    for name in ("vendor/cytoscape/cytoscape.min.js", "vendor/cytoscape/LICENSE", "pages/map.js",
                 "pages/service.js", "pages/common.js", "pages/app.css"):
        assert (tmp_path / name).is_file(), name
    assert (tmp_path / "vendor/cytoscape/cytoscape.min.js.gz").is_file()


def test_admin_pages_link_to_the_map_and_the_service_page(staff_client, django_user_model):
    from graph.tests.factories import CircularDependencyAlertFactory

    staff_client.force_login(django_user_model.objects.create_superuser(username="root", password="x"))
    checkout = ServiceFactory(service_id="checkout")
    ServiceFactory(service_id="payment")
    CircularDependencyAlertFactory(cycle_path=["checkout", "payment"])

    service_html = staff_client.get(f"/admin/graph/service/{checkout.pk}/change/").content.decode()
    assert 'href="/?focus=checkout"' in service_html
    assert 'href="/services/checkout/"' in service_html
    alerts_html = staff_client.get("/admin/graph/circulardependencyalert/").content.decode()
    assert 'href="/?focus=checkout"' in alerts_html


def test_sli_history_gives_one_entry_per_day_from_the_telemetry_source(staff_client):
    ServiceFactory(service_id="checkout")
    ServiceFactory(service_id="astronomy-db")  # the demo's uninstrumented service

    body = staff_client.get("/services/checkout/sli-history.json").json()
    assert body["lookback_days"] == len(body["days"]) == 30
    assert body["days"][-1]["day"] == (timezone.now().date() - timedelta(days=1)).isoformat()
    assert body["days_with_data"] == 30
    assert all(0.99 < day["availability"] <= 1 and day["latency_p99_ms"] > 0 for day in body["days"])

    empty = staff_client.get("/services/astronomy-db/sli-history.json").json()
    assert empty["days_with_data"] == 0
    assert {day["availability"] for day in empty["days"]} == {None}


def test_sli_history_follows_the_recommendation_lookback(staff_client):
    chatbot = ServiceFactory(service_id="chatbot")  # cold start in the demo: 10 days of data
    availability_recommendation(chatbot)

    body = staff_client.get("/services/chatbot/sli-history.json").json()
    assert body["lookback_days"] == 90
    assert body["days_with_data"] == 10
    assert [day["availability"] is not None for day in body["days"]] == [False] * 80 + [True] * 10


def test_sli_history_reports_an_unreachable_telemetry_source(staff_client, settings):
    ServiceFactory(service_id="checkout")
    settings.TELEMETRY_SOURCE = "prometheus"
    settings.PROMETHEUS_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    settings.PROMETHEUS_RETRIES = 0
    settings.PROMETHEUS_TIMEOUT_SECONDS = 1

    response = staff_client.get("/services/checkout/sli-history.json")
    assert response.status_code == 503
    assert response.json()["error"].startswith("Telemetry is unavailable")
    assert response.json()["days"] == []


def test_calibration_page_before_and_after_a_backtest(staff_client):
    from recommendations.models import RecommendationBacktest

    assert "No backtest has run yet" in staff_client.get("/calibration/").content.decode()
    reliability = [{"stated_lo": 0.02, "stated_hi": 0.05, "pairs": 40, "mean_stated_probability": 0.031,
                    "realised_breach_rate": 0.025}]
    RecommendationBacktest.objects.create(
        computed_at=timezone.now(), window_days=28, step_days=7, lookback_days=30, history_days=182, services=12,
        tiers={name: {"pairs": 40, "mean_stated_probability": stated, "realised_breach_rate": realised,
                      "reliability": reliability}
               for name, stated, realised in (("conservative", 0.006, 0.0), ("balanced", 0.031, 0.025),
                                              ("aggressive", 0.12, 0.15))})
    html = staff_client.get("/calibration/").content.decode()
    rows = re.findall(r'<tr class="tier-row-(\w+)"><td>\w+</td><td>(\d+)</td><td>([^<]+)</td>\s*<td>([^<]+)</td>', html)
    assert rows == [("conservative", "40", "0.6%", "0%"), ("balanced", "40", "3.1%", "2.5%"),
                    ("aggressive", "40", "12%", "15%")]
    assert 'id="reliability-diagram"' in html and "pages/calibration.js" in html


def test_service_page_says_whether_the_ceiling_binds(staff_client):
    checkout = ServiceFactory(service_id="checkout")
    row = availability_recommendation(checkout)
    impact = row.explanation["dependency_impact"]
    row.explanation = {**row.explanation, "dependency_impact": {
        **impact, "binding": False, "absorbed_failure_share": 0.62,
        "dependencies": [{**d, "availability_basis": "edge"} for d in impact["dependencies"]]}}
    row.save()
    html = staff_client.get("/services/checkout/").content.decode()
    assert "does not bind" in html and "62% of them" in html and "(its calls)" in html
    row.explanation["dependency_impact"].update(binding=True, absorbed_failure_share=None)
    row.save()
    assert "The dependency ceiling binds" in staff_client.get("/services/checkout/").content.decode()
