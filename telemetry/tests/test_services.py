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
    mesh_graph_discover,
    otel_graph_discover,
    peer_service_id,
    sli_aggregates_compute,
    sli_aggregates_prune,
)
from telemetry.sources import TelemetryUnavailable
from telemetry.sources.mesh import MeshSource
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
        ("cart", "redis-cart-svc-cluster-local", "sync"),
        ("payment", "10-0-3-7-5432", "sync"),
        ("checkout", "api-stripe-com", "sync"),
    }
    # The ingress and the nameless peer are not services; the edge that
    # stopped 3 hours ago is outside the lookback.
    assert not Service.objects.filter(service_id__in=["user", "unknown", "legacy"]).exists()
    assert Service.objects.get(service_id="payments-db").metadata == {"kind": "database"}
    assert Service.objects.get(service_id="redis-cart-svc-cluster-local").metadata == {
        "kind": "database", "peer_name": "redis.cart.svc.cluster.local"}
    assert Service.objects.get(service_id="10-0-3-7-5432").metadata == {"kind": "database",
                                                                         "peer_name": "10.0.3.7:5432"}
    assert Service.objects.get(service_id="api-stripe-com").metadata == {"kind": "external",
                                                                          "peer_name": "api.stripe.com"}
    assert Service.objects.get(service_id="payment").metadata == {}
    assert Service.objects.filter(discovered=True).count() == 9
    assert result.edges_seen == 10 and result.edges_upserted == 8 and result.edges_skipped == 2
    assert result.databases == ["10-0-3-7-5432", "payments-db", "redis-cart-svc-cluster-local"]
    assert result.externals == ["api-stripe-com"]
    assert result.peers_renamed["api.stripe.com"] == "api-stripe-com"
    assert any("unknown" in warning for warning in result.warnings)
    assert DISCOVERED_EDGES._value.get() - before == 8


def test_discovery_stores_edge_health_summing_the_failed_label(source):
    otel_graph_discover(source=source, lookback="1h")
    health = {
        (s, t): (rate, ratio, observed)
        for s, t, rate, ratio, observed in ServiceDependency.objects.values_list(
            "source__service_id", "target__service_id", "request_rate", "failure_ratio", "health_observed_at")
    }
    # The Collector-shaped series carry failed="true"/"false": one edge, all requests.
    rate, ratio, observed = health[("checkout", "payment")]
    assert rate == pytest.approx(1200 / 3600, rel=0.02)
    assert ratio == pytest.approx(0.05, abs=0.002)
    assert observed is not None
    assert health[("checkout", "api-stripe-com")][1] == pytest.approx(0.2, abs=0.005)
    assert health[("cart", "redis-cart-svc-cluster-local")][1] == pytest.approx(0.01, abs=0.001)
    assert health[("frontend", "checkout")][:2] == (pytest.approx(1.0, rel=0.02), 0.0)


def test_peer_service_ids_follow_one_rule():
    assert peer_service_id("payments-db") == "payments-db"
    assert peer_service_id("redis.cart.svc.cluster.local") == "redis-cart-svc-cluster-local"
    assert peer_service_id("10.0.3.7:5432") == "10-0-3-7-5432"
    assert peer_service_id("API.Stripe.com") == "api-stripe-com"
    long_id = peer_service_id("a." * 100)
    assert len(long_id) <= 128 and long_id != peer_service_id("a." * 101)
    assert peer_service_id("...") .startswith("peer-")


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

    assert ServiceDependency.objects.filter(discovery_source="otel_service_graph").count() == 8
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


def _health(discovery_source: str) -> dict[tuple[str, str], tuple]:
    return {
        (s, t): (rate, ratio, protocol)
        for s, t, rate, ratio, protocol in ServiceDependency.objects.filter(
            discovery_source=discovery_source).values_list(
            "source__service_id", "target__service_id", "request_rate", "failure_ratio", "protocol")
    }


def test_tempo_shaped_service_graph_without_failed_label(mesh_prometheus):
    source = PrometheusSource(base_url=mesh_prometheus.url, timeout=5, retries=0)
    result = otel_graph_discover(source=source, lookback="1h")
    health = _health("otel_service_graph")
    # Tempo names the ingress by its peer: no service, no edge.
    assert set(health) == {("web", "orders"), ("orders", "orders-db")}
    assert not Service.objects.filter(service_id="mobile-app").exists()
    assert health[("web", "orders")][:2] == (pytest.approx(1.0, rel=0.02), pytest.approx(0.1, abs=0.002))
    assert health[("orders", "orders-db")][1] == 0.0
    assert result.databases == ["orders-db"] and result.externals == []


def test_istio_series_become_service_mesh_edges_with_failure_ratios(mesh_prometheus):
    prometheus = PrometheusSource(base_url=mesh_prometheus.url, timeout=5, retries=0)
    result = mesh_graph_discover(source=MeshSource(prometheus, "istio"), lookback="1h")
    health = _health("service_mesh")
    assert set(health) == {("productpage", "reviews"), ("reviews", "ratings"), ("productpage", "details"),
                           ("reviews", "mysql")}
    assert health[("reviews", "ratings")][:2] == (pytest.approx(0.5, rel=0.02), pytest.approx(0.25, abs=0.002))
    assert health[("productpage", "reviews")][1] == pytest.approx(0.02, abs=0.001)
    assert health[("productpage", "details")][1] == 0.0
    assert health[("reviews", "mysql")] == (None, None, "tcp")  # bytes, not requests
    assert Service.objects.get(service_id="reviews").metadata == {"namespace": "shop"}
    assert not Service.objects.filter(service_id="unknown").exists()
    assert result.edges_skipped == 1 and result.edges_upserted == 4


def test_linkerd_series_become_service_mesh_edges_with_failure_ratios(mesh_prometheus):
    prometheus = PrometheusSource(base_url=mesh_prometheus.url, timeout=5, retries=0)
    mesh_graph_discover(source=MeshSource(prometheus, "linkerd"), lookback="1h")
    health = _health("service_mesh")
    assert set(health) == {("web", "books"), ("books", "authors")}
    assert health[("web", "books")][:2] == (pytest.approx(2.0, rel=0.02), pytest.approx(0.1, abs=0.002))
    assert health[("books", "authors")][1] == 0.0
    assert Service.objects.get(service_id="books").metadata == {"namespace": "booksapp"}


def test_mesh_discovery_off_reads_nothing(settings):
    settings.MESH_DISCOVERY = "off"
    result = mesh_graph_discover()
    assert result.edges_seen == 0 and not ServiceDependency.objects.exists()


def test_edge_health_is_served_on_records_and_effective_edges(mesh_prometheus, read_client):
    prometheus = PrometheusSource(base_url=mesh_prometheus.url, timeout=5, retries=0)
    otel_graph_discover(source=prometheus, lookback="1h")
    mesh_graph_discover(source=MeshSource(prometheus, "linkerd"), lookback="1h")
    records = read_client.get("/api/v1/dependencies").json()
    records = records.get("results", records)
    web_orders = next(r for r in records if (r["source"], r["target"]) == ("web", "orders"))
    assert web_orders["failure_ratio"] == pytest.approx(0.1, abs=0.002)
    assert web_orders["request_rate"] == pytest.approx(1.0, rel=0.02) and web_orders["health_observed_at"]
    edges = read_client.get("/api/v1/graph").json()["edges"]
    web_books = next(e for e in edges if (e["source"], e["target"]) == ("web", "books"))
    assert web_books["failure_ratio"] == pytest.approx(0.1, abs=0.002)
    subgraph = read_client.get("/api/v1/services/web/dependencies?depth=1").json()
    assert {(e["target"], round(e["failure_ratio"], 2)) for e in subgraph["edges"]} == {("orders", 0.1),
                                                                                          ("books", 0.1)}
