"""One real Prometheus for the telemetry tests, backfilled with 30 days of
span metrics for a few services and a known service-graph topology."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from slo_engine.testing.prometheus import (
    DailyTraffic,
    GraphEdge,
    MeshEdge,
    PrometheusServer,
    ServiceTraffic,
    daily_traffic,
    istio_openmetrics,
    linkerd_openmetrics,
    openmetrics_document,
    service_graph_openmetrics,
    span_metrics_openmetrics,
)

HISTORY_DAYS = 30
CHECKOUT_LATENCY = {50.0: 30.0, 95.0: 150.0, 99.0: 600.0, 99.9: 1800.0}
# Service graph: what discovery must find (client, server, connection_type, requests/hour) ...
LIVE_EDGES = [
    GraphEdge("frontend", "checkout", "", 3600),
    GraphEdge("checkout", "payment", "", 1200, failure_ratio=0.05),
    GraphEdge("checkout", "shipping", "messaging_system", 600),
    GraphEdge("payment", "payments-db", "database", 2400),
    GraphEdge("cart", "checkout", "", 6),
    # Databases Tempo and the Collector name by host or address.
    GraphEdge("cart", "redis.cart.svc.cluster.local", "database", 1800, failure_ratio=0.01),
    GraphEdge("payment", "10.0.3.7:5432", "database", 900),
]
# Virtual nodes: the ingress (not a service), an uninstrumented external peer
# named by peer.service (a service, kind external), a peer with no name (skipped).
VIRTUAL_EDGES = [
    GraphEdge("user", "frontend", "virtual_node", 3600),
    GraphEdge("checkout", "api.stripe.com", "virtual_node", 600, failure_ratio=0.2),
    GraphEdge("checkout", "unknown", "virtual_node", 60),
]


@dataclass(frozen=True)
class TelemetryFixture:
    server: PrometheusServer
    now: datetime
    first_day: date
    last_full_day: date
    traffic: dict[str, list[DailyTraffic]]

    @property
    def url(self) -> str:
        return self.server.url


def _checkout_days(first_day: date) -> list[DailyTraffic]:
    # A different availability and latency every day, so a client that mixes
    # days up cannot pass; the last two days (yesterday, today) are equal, so
    # windows ending now have a known availability.
    days = []
    for i in range(HISTORY_DAYS + 1):
        errors = 20 + (i * 37) % 180 if i < HISTORY_DAYS - 1 else 100
        latency = {**CHECKOUT_LATENCY, 99.0: 450.0 + 10 * (i % 30)} if i < HISTORY_DAYS - 1 else CHECKOUT_LATENCY
        days.append(DailyTraffic(day=first_day + timedelta(days=i), total=86_400, errors=errors, latency_ms=latency))
    return days


@pytest.fixture(scope="session")
def telemetry_prometheus(prometheus_factory) -> TelemetryFixture:
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.date()
    first_day = today - timedelta(days=HISTORY_DAYS)
    traffic = {
        "checkout": _checkout_days(first_day),
        "payment": daily_traffic(start=first_day, days=HISTORY_DAYS + 1, total=43_200, availability=0.995,
                                 latency_ms={50.0: 20.0, 99.0: 300.0}),
        # A cold-start service: 8 days of data, no latency histogram.
        "search": daily_traffic(start=today - timedelta(days=7), days=8, total=8_640, availability=0.99),
    }
    text = openmetrics_document(
        span_metrics_openmetrics([ServiceTraffic(name, days) for name, days in traffic.items()], end=now),
        service_graph_openmetrics(
            [*LIVE_EDGES, *VIRTUAL_EDGES, GraphEdge("frontend", "legacy", active_until=now - timedelta(hours=3))],
            start=now - timedelta(hours=6),
            end=now,
            failed_label=True,  # the Collector's shape
        ),
    )
    server = prometheus_factory(text)
    return TelemetryFixture(
        server=server, now=now, first_day=first_day, last_full_day=today - timedelta(days=1), traffic=traffic
    )


# A second Prometheus: a Tempo-shaped service graph (no `failed` label; a
# peer-named virtual client, the ingress on Tempo), Istio and Linkerd.
TEMPO_GRAPH_EDGES = [
    GraphEdge("web", "orders", "", 3600, failure_ratio=0.1),
    GraphEdge("orders", "orders-db", "database", 1800),
    GraphEdge("mobile-app", "web", "virtual_node", 3600),
]
ISTIO_EDGES = [
    MeshEdge("productpage", "reviews", requests_per_hour=3600, failure_ratio=0.02),
    MeshEdge("reviews", "ratings", requests_per_hour=1800, failure_ratio=0.25),
    MeshEdge("productpage", "details", requests_per_hour=3600),
    MeshEdge("reviews", "mysql", tcp=True),
    MeshEdge("unknown", "productpage", requests_per_hour=3600),
]
LINKERD_EDGES = [
    MeshEdge("web", "books", namespace="booksapp", requests_per_hour=7200, failure_ratio=0.1),
    MeshEdge("books", "authors", namespace="booksapp", requests_per_hour=3600, failure_ratio=0.0),
]


@pytest.fixture(scope="session")
def mesh_prometheus(prometheus_factory) -> PrometheusServer:
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(hours=3)
    return prometheus_factory(openmetrics_document(
        service_graph_openmetrics(TEMPO_GRAPH_EDGES, start=start, end=now),
        istio_openmetrics(ISTIO_EDGES, start=start, end=now),
        linkerd_openmetrics(LINKERD_EDGES, start=start, end=now),
    ))
