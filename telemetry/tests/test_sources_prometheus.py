"""PrometheusSource against a real Prometheus backfilled with known history."""

import http.server
import threading
from datetime import UTC, datetime, timedelta

import pytest

from slo_engine.processes import free_port
from telemetry.sources import TelemetryQueryError, TelemetrySource, TelemetryUnavailable, get_telemetry_source
from telemetry.sources.prometheus import PrometheusSource

pytestmark = pytest.mark.prometheus


@pytest.fixture
def source(telemetry_prometheus):
    return PrometheusSource(base_url=telemetry_prometheus.url, timeout=5, retries=0)


def test_is_a_telemetry_source(source):
    assert isinstance(source, TelemetrySource)


def test_daily_history_returns_the_generated_days(source, telemetry_prometheus):
    expected = telemetry_prometheus.traffic["checkout"][:-1]  # today is not over
    history = source.daily_history(
        "checkout", start=telemetry_prometheus.first_day, end=telemetry_prometheus.last_full_day
    )

    assert [d.day for d in history.days] == [d.day for d in expected]
    assert history.lookback_days == 30
    for got, want in zip(history.days, expected, strict=True):
        assert got.total == pytest.approx(want.total, abs=0.01)
        assert got.good == pytest.approx(want.good, abs=0.01)
        assert got.good / got.total == pytest.approx(want.good / want.total, abs=1e-6)
        assert set(got.latency_ms) == set(want.latency_ms)
        for percentile, value in want.latency_ms.items():
            assert got.latency_ms[percentile] == pytest.approx(value, abs=0.01), (got.day, percentile)


def test_bucket_bounds_come_from_the_histogram(source, telemetry_prometheus, openmetrics):
    history = source.daily_history("payment", start=telemetry_prometheus.first_day,
                                   end=telemetry_prometheus.last_full_day)
    assert history.latency_bucket_bounds_ms == tuple(float(b) for b in openmetrics.DEFAULT_LATENCY_BUCKETS_MS)
    assert {d.total for d in history.days} == {43_200.0}


def test_history_has_gaps_where_there_was_no_data(source, telemetry_prometheus):
    history = source.daily_history("search", start=telemetry_prometheus.first_day,
                                   end=telemetry_prometheus.last_full_day)
    assert len(history.days) == 7  # cold start: the service is a week old
    assert history.days[0].day == telemetry_prometheus.last_full_day - timedelta(days=6)
    assert all(d.latency_ms == {} for d in history.days)
    assert history.latency_bucket_bounds_ms == ()


def test_unknown_service_has_an_empty_history(source, telemetry_prometheus):
    history = source.daily_history("no-such-service", start=telemetry_prometheus.first_day,
                                   end=telemetry_prometheus.last_full_day)
    assert history.days == ()


def test_days_not_over_yet_are_left_out(source, telemetry_prometheus):
    today = telemetry_prometheus.last_full_day + timedelta(days=1)
    history = source.daily_history("checkout", start=today, end=today)
    assert history.days == ()


def test_window_sli_over_the_last_day(source):
    sli = source.window_sli("checkout", window="1d")
    # Yesterday and today both have 100 errors in 86 400 requests.
    assert sli.values["availability"] == pytest.approx(1 - 100 / 86_400, abs=1e-6)
    assert sli.values["error_rate"] == pytest.approx(100 / 86_400, abs=1e-6)
    assert sli.values["throughput"] == pytest.approx(1.0, rel=0.02)
    assert sli.sample_count == pytest.approx(86_400, rel=0.02)
    assert sli.values["latency_p99"] == pytest.approx(600.0, abs=0.01)
    assert sli.values["latency_p50"] == pytest.approx(30.0, abs=0.01)


def test_window_sli_of_a_service_without_traffic_is_empty(source):
    sli = source.window_sli("no-such-service", window="1h")
    assert sli.values == {}
    assert sli.sample_count == 0


def test_per_service_promql_override(source, telemetry_prometheus):
    # Without the span_kind filter, client spans (half of them errors) count too.
    metadata = {"promql": {"errors": 'sum(increase(traces_span_metrics_calls_total{service_name="$service",'
                                     'status_code="STATUS_CODE_ERROR"}[$window]))'}}
    history = source.daily_history("payment", start=telemetry_prometheus.last_full_day,
                                   end=telemetry_prometheus.last_full_day, metadata=metadata)
    (day,) = history.days
    assert day.total - day.good == pytest.approx(43_200 * 0.005 + 43_200 * 0.5, abs=0.01)


def test_settings_override_the_default_queries(settings, telemetry_prometheus):
    settings.TELEMETRY_SOURCE = "prometheus"
    settings.PROMETHEUS_URL = telemetry_prometheus.url
    settings.PROMQL_TOTAL = 'sum(increase(traces_span_metrics_calls_total{service_name="$service"}[$window]))'
    source = get_telemetry_source()
    assert isinstance(source, PrometheusSource)
    history = source.daily_history("payment", start=telemetry_prometheus.last_full_day,
                                   end=telemetry_prometheus.last_full_day)
    assert history.days[0].total == pytest.approx(2 * 43_200, abs=0.01)


def test_promql_error_names_the_failing_query(telemetry_prometheus):
    source = PrometheusSource(
        base_url=telemetry_prometheus.url, timeout=5, retries=0,
        promql={"total": "sum(increase(traces_span_metrics_calls_total{service_name=\"$service\"}[$window])"},
    )
    with pytest.raises(TelemetryQueryError) as excinfo:
        source.window_sli("checkout", window="1h")
    message = str(excinfo.value)
    assert "parse error" in message  # Prometheus's own explanation
    assert 'service_name="checkout"}[1h])' in excinfo.value.query
    assert excinfo.value.query in message


def test_unreachable_prometheus_is_unavailable():
    source = PrometheusSource(base_url=f"http://127.0.0.1:{free_port()}", timeout=1, retries=2, backoff=0.01)
    with pytest.raises(TelemetryUnavailable, match=r"unavailable: connection failed .*after 3 attempt"):
        source.query("up")


class _Flaky(http.server.BaseHTTPRequestHandler):
    """Answers 503 to the first `failures` requests, then a valid result."""

    failures = 0
    calls = 0

    def do_POST(self):  # noqa: N802 - http.server's naming
        type(self).calls += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if type(self).calls <= type(self).failures:
            body, status = b'{"status":"error","errorType":"unavailable","error":"starting"}', 503
        else:
            body = b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"7"]}]}}'
            status = 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    _Flaky.calls = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_5xx_is_retried_then_succeeds(flaky_server):
    _Flaky.failures = 2
    source = PrometheusSource(base_url=f"http://127.0.0.1:{flaky_server.server_port}", retries=2, backoff=0.01)
    assert source.query("up")[0]["value"][1] == "7"
    assert _Flaky.calls == 3


def test_5xx_after_all_retries_is_unavailable(flaky_server):
    _Flaky.failures = 10
    source = PrometheusSource(base_url=f"http://127.0.0.1:{flaky_server.server_port}", retries=1, backoff=0.01)
    with pytest.raises(TelemetryUnavailable, match="HTTP 503: unavailable: starting"):
        source.query("up")
    assert _Flaky.calls == 2


def test_naming_is_detected_once_and_trusted_while_prometheus_is_away(prometheus_factory, openmetrics):
    from telemetry.sources.prometheus import COLLECTOR_NAMING, TEMPO_NAMING, naming_cache_clear

    now = datetime.now(UTC)
    days = openmetrics.daily_traffic(start=now.date() - timedelta(days=2), days=3)
    server = prometheus_factory(openmetrics.openmetrics_document(openmetrics.span_metrics_openmetrics(
        [openmetrics.ServiceTraffic("orders", days)], end=now, naming="tempo")))
    source = PrometheusSource(base_url=server.url, timeout=2, retries=0)
    try:
        assert source.detect_naming() == TEMPO_NAMING
        assert 'traces_spanmetrics_calls_total{service="$service"' in source.templates()["total"]
        server.stop()
        # Cached per process: no question to the (stopped) server.
        assert PrometheusSource(base_url=server.url, timeout=2, retries=0).detect_naming() == TEMPO_NAMING
        # An expired answer is still used while Prometheus is away.
        assert source.detect_naming(refresh=True) == TEMPO_NAMING
        naming_cache_clear()
        with pytest.raises(TelemetryUnavailable):
            source.detect_naming()
        # Settings and per-service queries need no detection at all.
        explicit = PrometheusSource(base_url=server.url, timeout=2, retries=0, promql={
            key: template for key, template in COLLECTOR_NAMING.templates().items()})
        assert explicit.templates()["total"].startswith("sum(increase(traces_span_metrics_calls_total")
    finally:
        naming_cache_clear()


@pytest.fixture(scope="module")
def edge_prometheus(prometheus_factory, openmetrics):
    """Ten days of service-graph counters ending at the last midnight, in
    the Collector's shape (request series split by a `failed` label), one
    pair that never failed."""
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    edges = [
        openmetrics.GraphEdge("checkout", "payment", "", 3600, failure_ratio=0.002),
        openmetrics.GraphEdge("frontend", "payment", "", 7200, failure_ratio=0.0065),
        openmetrics.GraphEdge("frontend", "checkout", "", 1800),
    ]
    text = openmetrics.openmetrics_document(openmetrics.service_graph_openmetrics(
        edges, start=midnight - timedelta(days=10), end=midnight, step_seconds=900, failed_label=True))
    return prometheus_factory(text), midnight


def test_edge_traffic_sums_the_failed_label_away(edge_prometheus):
    server, midnight = edge_prometheus
    source = PrometheusSource(base_url=server.url, timeout=5, retries=0)
    last_day = (midnight - timedelta(days=1)).date()
    edges = {(e.client, e.server): e for e in source.edge_traffic(start=last_day - timedelta(days=9), end=last_day)}
    assert set(edges) == {("checkout", "payment"), ("frontend", "payment"), ("frontend", "checkout")}
    # One edge per pair however many `failed` series it has.
    assert edges[("checkout", "payment")].requests == pytest.approx(3600 * 240, rel=1e-6)
    assert edges[("checkout", "payment")].availability == pytest.approx(0.998, abs=1e-9)
    assert edges[("frontend", "payment")].availability == pytest.approx(0.9935, abs=1e-9)
    assert edges[("frontend", "checkout")].failed == 0 and edges[("frontend", "checkout")].availability == 1.0
    # A span of days before the counters existed has no edges.
    assert source.edge_traffic(start=last_day - timedelta(days=40), end=last_day - timedelta(days=31)) == []
    with pytest.raises(ValueError):
        source.edge_traffic(start=last_day, end=last_day - timedelta(days=1))

