"""One real Prometheus for the telemetry tests, backfilled with 30 days of
span metrics for a few services and a known service-graph topology."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

HISTORY_DAYS = 30
CHECKOUT_LATENCY = {50.0: 30.0, 95.0: 150.0, 99.0: 600.0, 99.9: 1800.0}
# Service graph: what discovery must find (client, server, connection_type, requests/hour) ...
# ... and the share of failed requests (0 when omitted).
LIVE_EDGES = [
    ("frontend", "checkout", "", 3600),
    ("checkout", "payment", "", 1200, 0.05),
    ("checkout", "shipping", "messaging_system", 600),
    ("payment", "payments-db", "database", 2400),
    ("cart", "checkout", "", 6),
    # Databases Tempo and the Collector name by host or address.
    ("cart", "redis.cart.svc.cluster.local", "database", 1800, 0.01),
    ("payment", "10.0.3.7:5432", "database", 900),
]
# Virtual nodes: the ingress (not a service), an uninstrumented external peer
# named by peer.service (a service, kind external), a peer with no name (skipped).
VIRTUAL_EDGES = [
    ("user", "frontend", "virtual_node", 3600),
    ("checkout", "api.stripe.com", "virtual_node", 600, 0.2),
    ("checkout", "unknown", "virtual_node", 60),
]
# A second Prometheus: a Tempo-shaped service graph (no `failed` label; a
# peer-named virtual client, the ingress on Tempo), Istio and Linkerd.
TEMPO_GRAPH_EDGES = [
    ("web", "orders", "", 3600, 0.1),
    ("orders", "orders-db", "database", 1800),
    ("mobile-app", "web", "virtual_node", 3600),
]
# (source, destination, namespace, requests/hour, failure ratio, tcp)
ISTIO_EDGES = [
    ("productpage", "reviews", "shop", 3600, 0.02),
    ("reviews", "ratings", "shop", 1800, 0.25),
    ("productpage", "details", "shop", 3600),
    ("reviews", "mysql", "shop", 3600, 0.0, True),
    ("unknown", "productpage", "shop", 3600),
]
LINKERD_EDGES = [
    ("web", "books", "booksapp", 7200, 0.1),
    ("books", "authors", "booksapp", 3600, 0.0),
]


def _graph_edge(openmetrics, client, server, connection_type, per_hour, failure_ratio=0.0):
    return openmetrics.GraphEdge(client, server, connection_type, per_hour, failure_ratio=failure_ratio)


@dataclass(frozen=True)
class TelemetryFixture:
    server: object  # testing.prometheus.PrometheusServer
    now: datetime
    first_day: date
    last_full_day: date
    traffic: dict[str, list]  # service -> [testing.prometheus.DailyTraffic]

    @property
    def url(self) -> str:
        return self.server.url


def _checkout_days(openmetrics, first_day: date) -> list:
    # A different availability and latency every day, so a client that mixes
    # days up cannot pass; the last two days (yesterday, today) are equal, so
    # windows ending now have a known availability.
    days = []
    for i in range(HISTORY_DAYS + 1):
        errors = 20 + (i * 37) % 180 if i < HISTORY_DAYS - 1 else 100
        latency = {**CHECKOUT_LATENCY, 99.0: 450.0 + 10 * (i % 30)} if i < HISTORY_DAYS - 1 else CHECKOUT_LATENCY
        days.append(openmetrics.DailyTraffic(day=first_day + timedelta(days=i), total=86_400, errors=errors,
                                             latency_ms=latency))
    return days


@pytest.fixture(scope="session")
def telemetry_prometheus(prometheus_factory, openmetrics) -> TelemetryFixture:
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.date()
    first_day = today - timedelta(days=HISTORY_DAYS)
    traffic = {
        "checkout": _checkout_days(openmetrics, first_day),
        "payment": openmetrics.daily_traffic(start=first_day, days=HISTORY_DAYS + 1, total=43_200, availability=0.995,
                                 latency_ms={50.0: 20.0, 99.0: 300.0}),
        # A cold-start service: 8 days of data, no latency histogram.
        "search": openmetrics.daily_traffic(start=today - timedelta(days=7), days=8, total=8_640, availability=0.99),
    }
    edges = [_graph_edge(openmetrics, *edge) for edge in (*LIVE_EDGES, *VIRTUAL_EDGES)]
    text = openmetrics.openmetrics_document(
        openmetrics.span_metrics_openmetrics(
            [openmetrics.ServiceTraffic(name, days) for name, days in traffic.items()], end=now),
        openmetrics.service_graph_openmetrics(
            [*edges, openmetrics.GraphEdge("frontend", "legacy", active_until=now - timedelta(hours=3))],
            start=now - timedelta(hours=6),
            end=now,
            failed_label=True,  # the Collector's shape
        ),
    )
    server = prometheus_factory(text)
    return TelemetryFixture(
        server=server, now=now, first_day=first_day, last_full_day=today - timedelta(days=1), traffic=traffic
    )


@pytest.fixture(scope="session")
def mesh_prometheus(prometheus_factory, openmetrics):
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(hours=3)
    return prometheus_factory(openmetrics.openmetrics_document(
        openmetrics.service_graph_openmetrics([_graph_edge(openmetrics, *edge) for edge in TEMPO_GRAPH_EDGES],
                                              start=start, end=now),
        openmetrics.istio_openmetrics([openmetrics.MeshEdge(*edge) for edge in ISTIO_EDGES], start=start, end=now),
        openmetrics.linkerd_openmetrics([openmetrics.MeshEdge(*edge) for edge in LINKERD_EDGES], start=start,
                                        end=now),
    ))
