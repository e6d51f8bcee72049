"""Span metrics as the two producers people run name them (the Collector, in
ms or seconds, and Tempo) give the same recommendations and exports with no
setting; a service without series is told which names were looked for.
Each naming gets its own real Prometheus."""

import math
from datetime import UTC, datetime, timedelta

import pytest
import requests
import yaml

from graph.tests.factories import ServiceFactory
from telemetry.sources.prometheus import PrometheusSource

pytestmark = [pytest.mark.prometheus, pytest.mark.django_db]

# p99 moves between 150 and 390 ms over the days: the truth for each tier is
# a statistic of these, rounded up to the next bucket bound.
P99_MS = [150.0 + 8 * (i % 31) for i in range(30)]
RATIOS = [0.9992, 0.9990, 0.9994, 0.9989, 0.9991] * 6
NAMINGS = ("collector", "collector_seconds", "tempo")
EXPECTED_NAMING = {"collector": "otel_collector", "collector_seconds": "otel_collector_seconds", "tempo": "tempo"}


@pytest.fixture(scope="module", params=NAMINGS)
def producer(request, prometheus_factory, openmetrics):
    now = datetime.now(UTC)
    start = now.date() - timedelta(days=30)
    days = openmetrics.daily_traffic(start=start, days=30, total=86_400, availability=RATIOS)
    days = [openmetrics.DailyTraffic(day=d.day, total=d.total, errors=d.errors,
                                     latency_ms={50.0: 30.0, 99.0: P99_MS[i]}) for i, d in enumerate(days)]
    text = openmetrics.openmetrics_document(openmetrics.span_metrics_openmetrics(
        [openmetrics.ServiceTraffic("checkout", days)], end=now, naming=request.param))
    return request.param, prometheus_factory(text)


@pytest.fixture
def bucket_above(openmetrics):
    return lambda value: min(b for b in openmetrics.DEFAULT_LATENCY_BUCKETS_MS if b >= value)


def test_recommendations_and_exports_without_configuration(producer, settings, read_client, client, bucket_above):
    naming, prometheus = producer
    settings.TELEMETRY_SOURCE = "prometheus"
    settings.PROMETHEUS_URL = prometheus.url
    ServiceFactory(service_id="checkout")

    response = read_client.get("/api/v1/services/checkout/slo-recommendations?force_regenerate=true")
    assert response.status_code == 200, response.content
    availability, latency = response.json()["recommendations"]
    errors = sum(round(86_400 * (1 - r)) for r in RATIOS)
    assert availability["explanation"]["observed_availability"] == pytest.approx(1 - errors / (30 * 86_400),
                                                                                  abs=1e-8)
    # Latency in ms whatever the histogram's unit, within one bucket of the truth.
    ordered = sorted(P99_MS)
    truth = {"conservative": max(P99_MS), "aggressive": ordered[len(ordered) // 2]}
    for tier, value in truth.items():
        threshold = latency["tiers"][tier]["threshold_ms"]
        assert value <= threshold <= bucket_above(value), (naming, tier, threshold)

    # The health probe names what was detected.
    telemetry = client.get("/health/ready").json()["checks"]["telemetry"]
    assert telemetry["span_metrics"]["naming"] == EXPECTED_NAMING[naming]

    # The exports query the same series: evaluated over the last day, the
    # availability ratio is that day's, the latency one counts requests under
    # the balanced threshold from the same histogram.
    documents = list(yaml.safe_load_all(read_client.get(
        "/api/v1/services/checkout/slo-recommendations/export?format=openslo&tier=balanced").content))
    ratio = {}
    for document in documents:
        metric = document["spec"]["indicator"]["spec"]["ratioMetric"]
        good = metric["good"]["metricSource"]["spec"]["query"].replace("[5m]", "[1d]")
        total = metric["total"]["metricSource"]["spec"]["query"].replace("[5m]", "[1d]")
        at = datetime.combine(datetime.now(UTC).date() - timedelta(days=1), datetime.min.time(), UTC)
        ratio[document["metadata"]["name"]] = (_at(prometheus.url, good, at), _at(prometheus.url, total, at))
    good, total = ratio["checkout-availability"]
    assert good / total == pytest.approx(RATIOS[-2], abs=1e-6)  # the day that ended at `at`
    good, total = ratio["checkout-latency-p99"]
    assert total == pytest.approx(86_400, rel=1e-6)
    assert 0.99 <= good / total < 1.0  # the threshold sits above that day's p99


def _at(url: str, query: str, at: datetime) -> float:
    body = requests.post(f"{url}/api/v1/query", data={"query": query, "time": f"{at.timestamp():.0f}"},
                         timeout=10).json()
    assert body["status"] == "success", (query, body)
    assert body["data"]["result"], f"no data for {query}"
    value = float(body["data"]["result"][0]["value"][1])
    assert math.isfinite(value)
    return value


def test_a_service_without_series_is_told_what_was_looked_for(producer, settings, read_client):
    naming, prometheus = producer
    settings.TELEMETRY_SOURCE = "prometheus"
    settings.PROMETHEUS_URL = prometheus.url
    ServiceFactory(service_id="ghost")
    response = read_client.get("/api/v1/services/ghost/slo-recommendations")
    assert response.status_code == 422
    detail = response.json()["detail"]
    expected = {"collector": 'traces_span_metrics_calls_total{service_name="ghost"',
                "collector_seconds": 'traces_span_metrics_calls_total{service_name="ghost"',
                "tempo": 'traces_spanmetrics_calls_total{service="ghost"'}[naming]
    assert expected in detail


def test_nothing_detected_lists_every_name_tried(prometheus_factory):
    source = PrometheusSource(base_url=prometheus_factory(None).url, timeout=5, retries=0)
    assert source.detect_naming() is None
    looked_for = source.looked_for()
    for name in ("traces_span_metrics_calls_total", "traces_spanmetrics_calls_total",
                 "traces_spanmetrics_latency_bucket", "traces_span_metrics_duration_seconds_bucket"):
        assert any(name in item for item in looked_for), name


def test_overrides_in_seconds_are_read_in_ms_too(producer):
    naming, prometheus = producer
    detected = PrometheusSource(base_url=prometheus.url, timeout=5, retries=0)
    # The same queries given as settings (what PROMQL_* users write), no detection involved.
    explicit = PrometheusSource(base_url=prometheus.url, timeout=5, retries=0,
                                promql=detected.templates())
    end = datetime.now(UTC).date() - timedelta(days=1)
    for source in (detected, explicit):
        history = source.daily_history("checkout", start=end - timedelta(days=6), end=end)
        assert 400.0 in history.latency_bucket_bounds_ms, naming
        for day in history.days:
            assert day.latency_ms[99.0] == pytest.approx(P99_MS[(day.day - (end - timedelta(days=29))).days],
                                                         abs=0.01), (naming, day.day)
