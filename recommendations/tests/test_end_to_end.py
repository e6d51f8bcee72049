"""End to end on real servers: a real Prometheus backfilled with 30 days of
span metrics -> recommendation over HTTP -> export parsed back as YAML; and
the daily batch fanned out to a real Celery worker over Redis."""

import time
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from django_celery_results.models import TaskResult

from graph.services.ingest import graph_ingest
from graph.tests.factories import ServiceFactory
from recommendations.models import FleetPrior, RecommendationBacktest, SloRecommendation
from recommendations.tasks import expire_recommendations, generate_recommendations_batch

LATENCY = {50: 30.0, 95: 150.0, 99: 600.0, 99.9: 1200.0}
# 30 full days ending yesterday; availability around 99.9% with one bad day.
RATIOS = [0.9992, 0.9990, 0.9994, 0.9989, 0.9991] * 6
RATIOS[12] = 0.995


@pytest.fixture(scope="module")
def prometheus(prometheus_factory, openmetrics):
    now = datetime.now(UTC)
    today = now.date()
    days = openmetrics.daily_traffic(start=today - timedelta(days=30), days=30, total=86_400, availability=RATIOS,
                         latency_ms=LATENCY)
    # payment fails 0.5% of all its calls, but only 0.2% of checkout's (the
    # service graph says so); frontend's calls take the rest of the failures.
    payment = openmetrics.daily_traffic(start=today - timedelta(days=30), days=30, total=57_600, availability=0.995)
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    edges = [openmetrics.GraphEdge("checkout", "payment", "", 1200, failure_ratio=0.002),
             openmetrics.GraphEdge("frontend", "payment", "", 1200, failure_ratio=0.008)]
    return prometheus_factory(openmetrics.openmetrics_document(
        openmetrics.span_metrics_openmetrics([openmetrics.ServiceTraffic("checkout", days),
                                              openmetrics.ServiceTraffic("payment", payment)], end=now),
        openmetrics.service_graph_openmetrics(edges, start=midnight - timedelta(days=31), end=now,
                                              step_seconds=3600, failed_label=True)))


@pytest.mark.prometheus
@pytest.mark.django_db
def test_prometheus_history_to_recommendation_and_export(prometheus, settings, read_client):
    settings.TELEMETRY_SOURCE = "prometheus"
    settings.PROMETHEUS_URL = prometheus.url
    ServiceFactory(service_id="checkout")
    response = read_client.get("/api/v1/services/checkout/slo-recommendations?force_regenerate=true")
    assert response.status_code == 200, response.content
    availability, latency = response.json()["recommendations"]
    assert availability["data_quality"]["days_with_data"] == 30
    assert availability["data_quality"]["sample_count"] == 30 * 86_400
    observed = availability["explanation"]["observed_availability"]
    errors = sum(round(86_400 * (1 - r)) for r in RATIOS)
    assert observed == pytest.approx(1 - errors / (30 * 86_400), abs=1e-8)
    balanced = availability["tiers"]["balanced"]
    assert 0.99 <= balanced["target"] < observed
    assert balanced["historical_windows"] == 3
    # p99 is exactly 600 ms every day: every tier rounds up to the 800 ms bucket.
    assert {t["threshold_ms"] for t in latency["tiers"].values()} == {800}

    exported = read_client.get("/api/v1/services/checkout/slo-recommendations/export?format=openslo")
    documents = list(yaml.safe_load_all(exported.content))
    assert [d["metadata"]["name"] for d in documents] == ["checkout-availability", "checkout-latency-p99"]
    assert documents[0]["spec"]["objectives"][0]["target"] == balanced["target"]
    good = documents[1]["spec"]["indicator"]["spec"]["ratioMetric"]["good"]
    assert 'le=~"800|800\\\\.0"' in good["metricSource"]["spec"]["query"]


@pytest.mark.prometheus
@pytest.mark.django_db
def test_dependency_availability_is_the_callers_experience(prometheus, settings, read_client):
    settings.TELEMETRY_SOURCE = "prometheus"
    settings.PROMETHEUS_URL = prometheus.url
    graph_ingest(source="manual", nodes=[], edges=[
        {"source": "checkout", "target": "payment",
         "attributes": {"communication_mode": "sync", "criticality": "hard", "protocol": "grpc"}}])
    response = read_client.get("/api/v1/services/checkout/slo-recommendations?force_regenerate=true")
    assert response.status_code == 200, response.content
    availability = response.json()["recommendations"][0]
    explanation = availability["explanation"]
    impact = explanation["dependency_impact"]
    (payment,) = impact["dependencies"]
    # 0.998 (checkout's calls), not 0.995 (all of payment's calls).
    assert payment["service_id"] == "payment" and payment["availability_basis"] == "edge"
    assert payment["availability"] == pytest.approx(0.998, abs=1e-8)
    assert impact["composite_availability_bound"] == pytest.approx(0.998, abs=1e-8)
    # checkout (about 99.89%) did better than the bound: evidence wins.
    observed = explanation["observed_availability"]
    assert observed > 0.998
    assert impact["binding"] is False and "failures_absorbed" in payment["flags"]
    assert impact["absorbed_failure_share"] == pytest.approx(1 - (1 - observed) / 0.002, abs=1e-5)
    gap = observed - availability["tiers"]["balanced"]["target"]
    assert abs(sum(a["contribution"] for a in explanation["feature_attributions"]) - gap) <= 1e-12
    for tier in availability["tiers"].values():
        lo, hi = tier["confidence_interval"]
        assert lo <= tier["target"] <= hi


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_batch_fans_out_on_a_real_worker(live_celery_worker, settings):
    settings.TELEMETRY_SOURCE = "demo"
    for name in ("alpha", "beta", "gamma"):
        ServiceFactory(service_id=name)
    ServiceFactory(service_id="astronomy-db")  # uninstrumented in the demo: counted, not failed
    ServiceFactory(service_id="old", retired_at=datetime.now(UTC))
    result = generate_recommendations_batch.delay(chunk_size=2)
    summary = result.get(timeout=60)
    assert summary["services"] == 4 and summary["chunks"] == 2
    from celery.result import GroupResult

    chunks = GroupResult.restore(summary["group_id"]).get(timeout=60)
    assert sum(c["generated"] for c in chunks) == 3
    assert sum(c["insufficient_data"] for c in chunks) == 1
    assert SloRecommendation.objects.filter(status="active", metric="availability").count() == 3
    assert TaskResult.objects.get(task_id=result.id).status == "SUCCESS"

    # The batch refitted the prior first (4 services: the default) and queued a backtest.
    assert summary["prior_services"] == 3 and FleetPrior.objects.get().is_default
    deadline = time.monotonic() + 60
    while not RecommendationBacktest.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert RecommendationBacktest.objects.get().services == 3

    SloRecommendation.objects.update(expires_at=datetime.now(UTC) - timedelta(minutes=1))
    assert expire_recommendations.delay().get(timeout=30) == {"expired": 6}
