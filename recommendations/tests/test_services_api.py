"""Recommendations over the demo source: scenarios, lifecycle, API, exports,
command and batch tasks (real PostgreSQL; real Celery worker for the batch)."""

import json
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
import yaml
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from graph.models import Service
from graph.services.ingest import graph_ingest
from recommendations.models import FleetPrior, SloRecommendation
from recommendations.services import (
    InsufficientData,
    fleet_prior_refit,
    recommendations_expire,
    recommendations_generate,
)
from telemetry.sources.demo import DemoSource

pytestmark = pytest.mark.django_db
URL = "/api/v1/services/{}/slo-recommendations"


@pytest.fixture
def demo_graph(db, settings):
    settings.TELEMETRY_SOURCE = "demo"
    data = json.loads((django_settings.DEMO_TOPOLOGY_FILE).read_text())
    graph_ingest(source="manual", nodes=data["nodes"], edges=data["edges"])
    return data


def _service(service_id):
    return Service.objects.get(service_id=service_id)


def test_steady_service_gets_availability_and_latency(demo_graph):
    rows = recommendations_generate(service=_service("checkout"), source=DemoSource())
    assert [r.metric for r in rows] == ["availability", "latency_p99"]
    availability, latency = rows
    tiers = availability.tiers
    assert tiers["conservative"]["target"] <= tiers["balanced"]["target"] <= tiers["aggressive"]["target"]
    assert availability.expires_at - availability.generated_at == timedelta(hours=24)
    assert availability.data_quality["lookback_days"] == 30 and not availability.data_quality["is_cold_start"]
    impact = availability.explanation["dependency_impact"]
    # checkout's hard sync dependencies, transitively: cart, currency, payment,
    # product-catalog, shipping, quote, valkey-cart and astronomy-db (no data).
    assert {d["service_id"] for d in impact["dependencies"]} == {
        "cart", "currency", "payment", "product-catalog", "shipping", "quote", "valkey-cart", "astronomy-db"}
    # checkout did better than the product of its hard dependencies: their
    # failures are absorbed, so the bound does not cap its tiers.
    observed = availability.explanation["observed_availability"]
    assert observed > impact["composite_availability_bound"]
    assert impact["binding"] is False
    assert impact["absorbed_failure_share"] == pytest.approx(
        1 - (1 - observed) / (1 - impact["composite_availability_bound"]), abs=1e-5)
    assert tiers["aggressive"]["target"] > impact["composite_availability_bound"]
    attributions = availability.explanation["feature_attributions"]
    gap = observed - tiers["balanced"]["target"]
    assert abs(sum(a["contribution"] for a in attributions) - gap) <= 1e-12
    assert next(a for a in attributions if a["feature"] == "dependency_cap")["contribution"] == pytest.approx(
        0, abs=1e-12)
    source = DemoSource()
    assert latency.tiers["balanced"]["threshold_ms"] in source.daily_history(
        "checkout", start=source.today, end=source.today).latency_bucket_bounds_ms


def test_greedy_external_dependency_is_flagged(demo_graph):
    # A fixed day: how much of shipping's budget quote takes depends on where
    # the rounded budget falls (0.49 to 0.86 over the demo's days).
    source = DemoSource(last_day=date(2026, 3, 1))
    now = datetime(2026, 3, 2, 6, tzinfo=UTC)
    fleet_prior_refit(source=source, now=now)  # as the daily batch does first
    availability = recommendations_generate(service=_service("shipping"), source=source, now=now)[0]
    quote = next(d for d in availability.explanation["dependency_impact"]["dependencies"]
                 if d["service_id"] == "quote")
    assert quote["budget_share"] > 0.5
    assert "over_half_of_budget" in quote["flags"]
    assert availability.explanation["dependency_impact"]["bottleneck_service"] == "quote"
    # shipping fails whenever quote does and never did better than it: the bound binds.
    assert availability.explanation["dependency_impact"]["binding"] is True
    assert all(t["target"] <= availability.explanation["dependency_impact"]["composite_availability_bound"]
               for t in availability.tiers.values())


def test_cold_start_uses_90_days_and_seven_days_is_enough(demo_graph):
    chatbot = recommendations_generate(service=_service("chatbot"), source=DemoSource())[0]
    assert chatbot.data_quality["is_cold_start"] is True
    assert chatbot.data_quality["lookback_days"] == 90 and chatbot.data_quality["days_with_data"] == 10
    assert (chatbot.lookback_window_end - chatbot.lookback_window_start).days == 90
    mcp = recommendations_generate(service=_service("mcp"), source=DemoSource())[0]
    assert mcp.data_quality["days_with_data"] == 7


def test_noisy_service_rejects_bad_points(demo_graph):
    row = recommendations_generate(service=_service("recommendation"), source=DemoSource())[0]
    assert row.data_quality["rejected_points"] > 0
    assert row.tiers["balanced"]["target"] < 0.999


def test_uninstrumented_service_has_no_recommendation(demo_graph):
    with pytest.raises(InsufficientData) as caught:
        recommendations_generate(service=_service("astronomy-db"), source=DemoSource())
    assert caught.value.data_quality["days_with_data"] == 0
    assert not SloRecommendation.objects.filter(service__service_id="astronomy-db").exists()


def test_regeneration_supersedes_in_one_transaction_and_expiry(demo_graph):
    service = _service("cart")
    first = recommendations_generate(service=service, source=DemoSource())
    with CaptureQueriesContext(connection) as queries:
        second = recommendations_generate(service=service, source=DemoSource())
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert statements.count("UPDATE") == 1 and statements.count("INSERT") == 1
    statuses = dict(SloRecommendation.objects.filter(service=service).values_list("pk", "status"))
    assert {statuses[r.pk] for r in first} == {"superseded"}
    assert {statuses[r.pk] for r in second} == {"active"}
    assert second[0].tiers == first[0].tiers  # same inputs, same numbers
    assert recommendations_expire(now=timezone.now() + timedelta(hours=23)) == 0
    assert recommendations_expire(now=timezone.now() + timedelta(hours=24, seconds=1)) == 2
    assert not SloRecommendation.objects.filter(service=service, status="active").exists()


def test_api_returns_the_design_shape_and_reuses_active(demo_graph, read_client, write_client):
    response = read_client.get(URL.format("checkout"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["service_id"] == "checkout"
    first = body["recommendations"][0]
    assert set(first) == {"id", "sli_type", "metric", "window_days", "status", "generated_at", "expires_at",
                          "lookback_window_start", "lookback_window_end", "tiers", "explanation", "data_quality"}
    assert first["id"] == SloRecommendation.objects.get(
        service__service_id="checkout", metric="availability", status="active").pk
    assert set(first["tiers"]["balanced"]) == {
        "target", "target_raw", "estimated_breach_probability", "historical_breach_rate", "historical_breaches",
        "historical_windows", "confidence_interval", "error_budget_minutes"}
    assert set(first["data_quality"]) == {"completeness", "days_with_data", "lookback_days", "is_cold_start",
                                          "sample_count", "low_traffic", "rejected_points"}
    again = read_client.get(URL.format("checkout") + "/?sli_type=latency").json()
    assert [r["metric"] for r in again["recommendations"]] == ["latency_p99"]
    assert again["recommendations"][0]["generated_at"] == body["recommendations"][1]["generated_at"]
    forced = write_client.get(URL.format("checkout") + "?force_regenerate=true").json()
    assert forced["recommendations"][0]["generated_at"] != first["generated_at"]
    assert SloRecommendation.objects.filter(service__service_id="checkout", status="superseded").count() == 2


def test_api_regenerates_expired(demo_graph, read_client):
    read_client.get(URL.format("cart"))
    SloRecommendation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    body = read_client.get(URL.format("cart")).json()
    assert all(timezone.datetime.fromisoformat(r["expires_at"]) > timezone.now() for r in body["recommendations"])


def test_api_errors(demo_graph, read_client, anon_client):
    missing = read_client.get(URL.format("no-such-service"))
    assert missing.status_code == 404 and missing["Content-Type"] == "application/problem+json"
    no_data = read_client.get(URL.format("astronomy-db"))
    assert no_data.status_code == 422 and no_data["Content-Type"] == "application/problem+json"
    assert no_data.json()["data_quality"]["days_with_data"] == 0
    bad = read_client.get(URL.format("checkout") + "?sli_type=throughput")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "sli_type"
    assert anon_client.get(URL.format("checkout")).status_code == 401
    for query, field in (("format=xml", "format"), ("format=sloth&tier=reckless", "tier"), ("", "format")):
        response = read_client.get(URL.format("checkout") + "/export?" + query)
        assert response.status_code == 422, response.content
        assert response.json()["errors"][0]["field"] == field


def test_exports_parse_back(demo_graph, read_client):
    openslo = read_client.get(URL.format("checkout") + "/export?format=openslo")
    assert openslo.status_code == 200 and openslo["Content-Type"].startswith("application/yaml")
    assert "attachment" in openslo["Content-Disposition"]
    documents = list(yaml.safe_load_all(openslo.content))
    availability = documents[0]
    balanced = SloRecommendation.objects.get(service__service_id="checkout", metric="availability",
                                             status="active").tiers["balanced"]["target"]
    assert availability["apiVersion"] == "openslo/v1" and availability["kind"] == "SLO"
    spec = availability["spec"]
    assert spec["budgetingMethod"] == "Occurrences"
    assert spec["timeWindow"] == [{"duration": "28d", "isRolling": True}]
    assert spec["objectives"][0]["target"] == balanced
    ratio = spec["indicator"]["spec"]["ratioMetric"]
    assert 'service_name="checkout"' in ratio["total"]["metricSource"]["spec"]["query"]
    assert "STATUS_CODE_ERROR" in ratio["good"]["metricSource"]["spec"]["query"]

    sloth = yaml.safe_load(read_client.get(URL.format("checkout") + "/export?format=sloth&tier=aggressive").content)
    assert sloth["version"] == "prometheus/v1" and sloth["service"] == "checkout"
    aggressive = SloRecommendation.objects.get(service__service_id="checkout", metric="availability",
                                               status="active").tiers["aggressive"]["target"]
    assert sloth["slos"][0]["objective"] == pytest.approx(aggressive * 100)
    assert "{{.window}}" in sloth["slos"][0]["sli"]["events"]["error_query"]

    rules = yaml.safe_load(read_client.get(URL.format("checkout") + "/export/?format=prometheus").content)
    alerts = [r for r in rules["groups"][0]["rules"] if "alert" in r]
    factors = [(a["labels"]["long_window"], a["labels"]["short_window"], float(a["labels"]["burn_rate_factor"]))
               for a in alerts]
    assert factors == [("1h", "5m", 13.44), ("6h", "30m", 5.6), ("1d", "2h", 2.8), ("3d", "6h", 0.933)]
    records = {r["record"] for r in rules["groups"][0]["rules"] if "record" in r}
    assert {"slo:sli_error:ratio_rate5m", "slo:sli_error:ratio_rate3d"} <= records


def test_per_service_promql_override_is_exported(demo_graph, read_client):
    Service.objects.filter(service_id="cart").update(metadata={"promql": {
        "total": 'sum(increase(http_requests_total{job="cart"}[$window]))',
        "errors": 'sum(increase(http_requests_total{job="cart",code=~"5.."}[$window]))'}})
    sloth = yaml.safe_load(read_client.get(URL.format("cart") + "/export?format=sloth").content)
    events = sloth["slos"][0]["sli"]["events"]
    assert events["total_query"] == 'sum(increase(http_requests_total{job="cart"}[{{.window}}]))'


def test_command_generates_with_progress(demo_graph):
    out = StringIO()
    call_command("generate_recommendations", stdout=out)
    text = out.getvalue()
    assert "[1/27]" in text and "astronomy-db: skipped" in text
    assert "26 generated, 1 with insufficient data" in text
    assert SloRecommendation.objects.filter(status="active", metric="availability").count() == 26
    # Like the daily batch, it refits the fleet prior first.
    assert text.startswith("fleet prior fitted on 26 services\n")
    assert FleetPrior.objects.get().services_used == 26


def test_generate_many_writes_a_chunk_in_one_transaction_and_counts_outcomes(demo_graph):
    from recommendations.services import recommendations_generate_many

    services = list(Service.objects.filter(service_id__in=["checkout", "cart", "astronomy-db"]).order_by("service_id"))
    with CaptureQueriesContext(connection) as queries:
        outcome = recommendations_generate_many(services=services, source=DemoSource())
    assert outcome.as_dict() == {"generated": 2, "insufficient_data": 1, "failed": 0, "recommendations": 4}
    # One supersede UPDATE and one INSERT for the whole chunk (plus graph reads), not a commit per service.
    inserts = [q for q in queries.captured_queries
               if q["sql"].startswith("INSERT INTO \"recommendations_slorecommendation\"")]
    assert len(inserts) == 1
    first = set(SloRecommendation.objects.filter(status="active").values_list("pk", flat=True))
    assert len(first) == 4

    again = recommendations_generate_many(services=services, source=DemoSource())
    assert again.generated == 2
    active = set(SloRecommendation.objects.filter(status="active").values_list("pk", flat=True))
    assert len(active) == 4 and not active & first
    assert SloRecommendation.objects.filter(pk__in=first, status="superseded").count() == 4


def test_unreachable_telemetry_is_a_503_problem_and_writes_nothing(demo_graph, read_client, settings):
    from slo_engine.processes import free_port

    settings.TELEMETRY_SOURCE = "prometheus"
    settings.PROMETHEUS_URL = f"http://127.0.0.1:{free_port()}"
    settings.PROMETHEUS_RETRIES = 0
    settings.PROMETHEUS_TIMEOUT_SECONDS = 1
    for path in ("", "/export?format=openslo"):
        response = read_client.get(URL.format("checkout") + path)
        assert response.status_code == 503, response.content
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["detail"].startswith("Telemetry source failed")
    assert not SloRecommendation.objects.exists()


def test_latency_query_without_a_histogram_cannot_be_exported_and_says_why(demo_graph, read_client):
    read_client.get(URL.format("cart"))  # generate with the demo's history first
    Service.objects.filter(service_id="cart").update(metadata={"promql": {
        "latency": "max(my_p99_seconds{service=\"$service\"})",
        "latency_buckets": "count(my_p99_seconds{service=\"$service\"})"}})
    response = read_client.get(URL.format("cart") + "/export?format=openslo")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "metadata.promql.latency"
