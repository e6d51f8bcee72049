"""OTel discovery and SLI aggregates against a real Prometheus."""

from datetime import timedelta

import pytest
from django.utils import timezone

from graph.models import GraphVersion, Service, ServiceDependency
from graph.tests.factories import ServiceDependencyFactory, ServiceFactory
from slo_engine.metrics import DISCOVERED_EDGES
from slo_engine.processes import free_port
from telemetry.models import SliAggregate, SliType, TimeWindow
from telemetry.services import (
    confidence_from_requests,
    otel_graph_discover,
    sli_aggregates_compute,
    sli_aggregates_prune,
)
from telemetry.sources import TelemetryUnavailable
from telemetry.sources.prometheus import PrometheusSource

pytestmark = [pytest.mark.prometheus, pytest.mark.django_db]


@pytest.fixture
def source(telemetry_prometheus):
    return PrometheusSource(base_url=telemetry_prometheus.url, timeout=5, retries=0)


def _otel_edges() -> set[tuple[str, str, str]]:
    return set(
        ServiceDependency.objects.filter(discovery_source="otel_service_graph").values_list(
            "source__service_id", "target__service_id", "communication_mode"
        )
    )


def test_discovery_creates_exactly_the_generated_edges(source):
    before = DISCOVERED_EDGES._value.get()
    result = otel_graph_discover(source=source, lookback="1h")

    assert _otel_edges() == {
        ("frontend", "checkout", "sync"),
        ("checkout", "payment", "sync"),
        ("checkout", "shipping", "async"),  # messaging_system
        ("payment", "payments-db", "sync"),
        ("cart", "checkout", "sync"),
    }
    # The ingress and the uninstrumented peer are not services; the edge that
    # stopped 3 hours ago is outside the lookback.
    assert not Service.objects.filter(service_id__in=["user", "stripe-api", "legacy"]).exists()
    assert Service.objects.get(service_id="payments-db").metadata == {"kind": "database"}
    assert Service.objects.get(service_id="payment").metadata == {}
    assert Service.objects.filter(discovered=True).count() == 6
    assert result.edges_seen == 7 and result.edges_upserted == 5 and result.edges_skipped == 2
    assert result.databases == ["payments-db"]
    assert DISCOVERED_EDGES._value.get() - before == 5


def test_confidence_rises_with_request_volume(source):
    otel_graph_discover(source=source, lookback="1h")
    confidence = dict(
        ServiceDependency.objects.values_list("source__service_id", "confidence_score").filter(
            target__service_id="checkout"
        )
    )
    assert confidence["cart"] == pytest.approx(confidence_from_requests(6), abs=0.01)  # 6 requests in the hour
    assert confidence["cart"] < 0.1
    assert confidence["frontend"] == 1.0
    assert confidence_from_requests(0) == 0.0
    assert confidence_from_requests(10) < confidence_from_requests(100) < confidence_from_requests(1000) <= 1.0


def test_discovery_is_idempotent_and_leaves_catalog_data_alone(source):
    ServiceFactory(service_id="payment", team="payments", criticality="critical", metadata={"tier": 1})
    ServiceFactory(service_id="payments-db", team="dba", metadata={"engine": "postgres"})
    manual = ServiceDependencyFactory(
        source=Service.objects.get(service_id="payment"), target=Service.objects.get(service_id="payments-db")
    )
    otel_graph_discover(source=source, lookback="1h")
    version = GraphVersion.objects.get(pk=1).version
    otel_graph_discover(source=source, lookback="1h")

    assert ServiceDependency.objects.filter(discovery_source="otel_service_graph").count() == 5
    # The second run only re-observes: no effective edge changed, so the
    # version (and every cached traversal) is kept.
    assert GraphVersion.objects.get(pk=1).version == version
    payment = Service.objects.get(service_id="payment")
    assert (payment.team, payment.criticality, payment.metadata, payment.discovered) == (
        "payments", "critical", {"tier": 1}, False
    )
    assert Service.objects.get(service_id="payments-db").metadata == {"engine": "postgres", "kind": "database"}
    manual.refresh_from_db()
    assert manual.discovery_source == "manual" and manual.confidence_score == 1.0


def test_discovery_brings_a_stale_edge_back(source):
    otel_graph_discover(source=source, lookback="1h")
    ServiceDependency.objects.filter(discovery_source="otel_service_graph").update(
        is_stale=True, last_observed_at=timezone.now() - timedelta(days=30)
    )
    otel_graph_discover(source=source, lookback="1h")
    assert not ServiceDependency.objects.filter(is_stale=True).exists()


def test_discovery_with_prometheus_down_raises_and_writes_nothing():
    source = PrometheusSource(base_url=f"http://127.0.0.1:{free_port()}", timeout=1, retries=0)
    with pytest.raises(TelemetryUnavailable):
        otel_graph_discover(source=source)
    assert not ServiceDependency.objects.exists()


def test_sli_aggregates_for_every_service_and_window(source, telemetry_prometheus):
    for service_id in ("checkout", "payment", "search", "uninstrumented"):
        ServiceFactory(service_id=service_id)
    ServiceFactory(service_id="retired", retired_at=timezone.now())
    ServiceFactory(service_id="broken", metadata={"promql": {"total": "sum(rate(x[$window]"}})
    now = timezone.now()

    result = sli_aggregates_compute(source=source, now=now)

    assert result.services == 5
    assert result.services_failed == ["broken"]  # a bad per-service query does not stop the run
    assert result.services_without_data == ["uninstrumented"]
    rows = SliAggregate.objects.filter(service__service_id="checkout")
    assert {(r.sli_type, r.time_window) for r in rows} == {(t, w) for t in SliType.values for w in TimeWindow.values}
    assert {r.computed_at for r in rows} == {now}
    one_day = {r.sli_type: r for r in rows.filter(time_window="1d")}
    assert float(one_day["availability"].value) == pytest.approx(1 - 100 / 86_400, abs=1e-6)
    assert float(one_day["latency_p99"].value) == pytest.approx(600.0, abs=0.01)
    assert one_day["availability"].sample_count == pytest.approx(86_400, rel=0.02)
    # 28 days of payment traffic at 0.995.
    payment = SliAggregate.objects.get(service__service_id="payment", sli_type="availability", time_window="28d")
    assert float(payment.value) == pytest.approx(0.995, abs=1e-6)
    assert payment.sample_count == pytest.approx(28 * 43_200, rel=0.02)
    # search has no histogram: no latency rows, but availability.
    assert set(SliAggregate.objects.filter(service__service_id="search").values_list("sli_type", flat=True)) == {
        "availability", "error_rate", "throughput"
    }
    assert result.rows_written == SliAggregate.objects.count()
    assert not SliAggregate.objects.filter(service__service_id__in=["retired", "uninstrumented"]).exists()


def test_sli_aggregates_for_named_services(source):
    ServiceFactory(service_id="checkout")
    ServiceFactory(service_id="payment")
    result = sli_aggregates_compute(source=source, services=["payment"])
    assert result.services == 1
    assert set(SliAggregate.objects.values_list("service__service_id", flat=True)) == {"payment"}


def test_sli_aggregates_with_prometheus_down_raise():
    ServiceFactory(service_id="checkout")
    source = PrometheusSource(base_url=f"http://127.0.0.1:{free_port()}", timeout=1, retries=0)
    with pytest.raises(TelemetryUnavailable):
        sli_aggregates_compute(source=source)
    assert not SliAggregate.objects.exists()


def test_sli_aggregates_older_than_the_retention_are_pruned(settings):
    settings.SLI_AGGREGATE_RETENTION_DAYS = 14
    service = ServiceFactory(service_id="checkout")
    now = timezone.now()
    for age_days in (20, 15, 13, 0):
        SliAggregate.objects.create(
            service=service, sli_type="availability", time_window="1d", value="0.999", sample_count=10,
            computed_at=now - timedelta(days=age_days),
        )
    assert sli_aggregates_prune(now=now) == 2
    kept = sorted((now - row).days for row in SliAggregate.objects.values_list("computed_at", flat=True))
    assert kept == [0, 13]
    assert sli_aggregates_prune(now=now) == 0
