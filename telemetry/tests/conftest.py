"""One real Prometheus for the telemetry tests, backfilled with 30 days of
span metrics for a few services and a known service-graph topology."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

HISTORY_DAYS = 30
CHECKOUT_LATENCY = {50.0: 30.0, 95.0: 150.0, 99.0: 600.0, 99.9: 1800.0}
# Service graph: what discovery must find (client, server, connection_type, requests/hour) ...
LIVE_EDGES = [
    ("frontend", "checkout", "", 3600),
    ("checkout", "payment", "", 1200),
    ("checkout", "shipping", "messaging_system", 600),
    ("payment", "payments-db", "database", 2400),
    ("cart", "checkout", "", 6),
]
# ... and what it must not: the ingress, an uninstrumented external peer.
VIRTUAL_EDGES = [
    ("user", "frontend", "virtual_node", 3600),
    ("checkout", "stripe-api", "virtual_node", 600),
]


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
    edges = [openmetrics.GraphEdge(*edge) for edge in (*LIVE_EDGES, *VIRTUAL_EDGES)]
    text = openmetrics.openmetrics_document(
        openmetrics.span_metrics_openmetrics(
            [openmetrics.ServiceTraffic(name, days) for name, days in traffic.items()], end=now),
        openmetrics.service_graph_openmetrics(
            [*edges, openmetrics.GraphEdge("frontend", "legacy", active_until=now - timedelta(hours=3))],
            start=now - timedelta(hours=6),
            end=now,
        ),
    )
    server = prometheus_factory(text)
    return TelemetryFixture(
        server=server, now=now, first_day=first_day, last_full_day=today - timedelta(days=1), traffic=traffic
    )
