"""A real Prometheus server for tests, backfilled with generated history.

Usage (register this module in the root `conftest.py` `pytest_plugins`)::

    @pytest.fixture(scope="module")
    def prometheus(prometheus_factory):
        end = datetime.now(UTC)
        text = openmetrics_document(
            span_metrics_openmetrics([ServiceTraffic("checkout", days=[...])], end=end),
            service_graph_openmetrics([GraphEdge("frontend", "checkout")], start=end - timedelta(hours=6), end=end),
        )
        return prometheus_factory(text)

    def test_x(prometheus):
        PrometheusSource(base_url=prometheus.url, timeout=5, retries=0)

`prometheus_factory(openmetrics)` writes the text to a file, turns it into TSDB
blocks with `promtool tsdb create-blocks-from openmetrics`, starts
`/usr/bin/prometheus` on a free loopback port with that data directory, waits
until `/-/ready` answers and returns a `PrometheusServer` (`url`, `stop()`,
`start()`). Every server it started is stopped at the end of the session.

The generators write the metric names of the OpenTelemetry Collector's
span-metrics and service-graph connectors, or (`naming="tempo"`) those of
Grafana Tempo's metrics-generator, or (`naming="collector_seconds"`) the
Collector's with `unit: s`:

* `span_metrics_openmetrics`: per service, `traces_span_metrics_calls_total`
  (server spans split into `STATUS_CODE_UNSET` and `STATUS_CODE_ERROR`, plus a
  client-span series with a different error rate that a correct query must
  ignore) and the `traces_span_metrics_duration_milliseconds` histogram. Each
  day's events are spread evenly over that UTC day, so `increase(...[1d])`
  evaluated at the next midnight equals the day's totals exactly (samples sit
  on both ends of the range: no extrapolation), and the histogram's cumulative
  distribution is linear inside each bucket, so `histogram_quantile` returns
  exactly the requested percentiles.
* `service_graph_openmetrics`: `traces_service_graph_request_total` (and
  `_request_failed_total` for edges with failures) for a topology, at a
  constant request rate per edge over [start, end] (or until the edge's
  `active_until`); `failed_label=True` splits the request series by a
  `failed` label the way the Collector does.
* `istio_openmetrics` / `linkerd_openmetrics`: `istio_requests_total`
  (reporter="source", response codes 200/503) plus `istio_tcp_sent_bytes_total`,
  and Linkerd's `response_total` (direction="outbound", classification
  success/failure), for `MeshEdge`s.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests

from slo_engine.processes import free_port

PROMETHEUS_BINARY = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL_BINARY = shutil.which("promtool") or "/usr/bin/promtool"

# Bucket upper bounds (ms) of the generated latency histogram: the defaults of
# the OpenTelemetry Collector's span-metrics connector.
DEFAULT_LATENCY_BUCKETS_MS: tuple[float, ...] = (
    2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10000, 15000
)
DEFAULT_STEP_SECONDS = 900
DAY_SECONDS = 86_400

CALLS = "traces_span_metrics_calls"
DURATION = "traces_span_metrics_duration_milliseconds"
SERVICE_GRAPH_REQUESTS = "traces_service_graph_request"
SERVICE_GRAPH_FAILED = "traces_service_graph_request_failed"


@dataclass(frozen=True)
class SpanNaming:
    """Metric names, service label and latency unit (ms per histogram unit) of a producer."""

    calls: str
    duration: str
    service_label: str
    unit_ms: float


SPAN_NAMINGS = {
    "collector": SpanNaming(CALLS, DURATION, "service_name", 1.0),
    "collector_seconds": SpanNaming(CALLS, "traces_span_metrics_duration_seconds", "service_name", 1000.0),
    "tempo": SpanNaming("traces_spanmetrics_calls", "traces_spanmetrics_latency", "service", 1000.0),
}


@dataclass(frozen=True)
class DailyTraffic:
    """One UTC day of server-span traffic of one service.

    `latency_ms` maps a percentile (50, 95, 99, 99.9) to the value the day's
    histogram must yield. Each must fall in its own bucket, with at least one
    bucket between two percentiles' buckets, not in the first bucket and not
    above the largest finite bound (ValueError otherwise): a histogram cannot
    reproduce arbitrary percentiles, only these.
    """

    day: date
    total: int
    errors: int = 0
    latency_ms: dict[float, float] = field(default_factory=dict)

    @property
    def good(self) -> int:
        return self.total - self.errors


@dataclass(frozen=True)
class ServiceTraffic:
    """The days of traffic of one service (`service_name` label)."""

    service: str
    days: list[DailyTraffic]
    # Client spans of the same service: a query that forgets
    # span_kind="SPAN_KIND_SERVER" picks these up and gets the numbers wrong.
    client_error_ratio: float = 0.5


@dataclass(frozen=True)
class GraphEdge:
    """One edge of the generated service graph (`client` called `server`)."""

    client: str
    server: str
    connection_type: str = ""
    requests_per_hour: float = 600.0
    # The edge has no traffic after this instant (None: until the end).
    active_until: datetime | None = None
    # Share of the requests that failed.
    failure_ratio: float = 0.0


@dataclass(frozen=True)
class MeshEdge:
    """One workload-to-workload edge of a service mesh."""

    source: str
    destination: str
    namespace: str = "shop"
    requests_per_hour: float = 3600.0
    failure_ratio: float = 0.0
    # Istio only: a plain TCP connection (istio_tcp_sent_bytes_total, no requests).
    tcp: bool = False


def _labels(**labels: str) -> str:
    parts = []
    for key, value in labels.items():
        if value == "":
            continue
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        parts.append(f'{key}="{escaped}"')
    return "{" + ",".join(parts) + "}"


def _format_bound(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _timestamps(start: datetime, end: datetime, step_seconds: int) -> Iterator[float]:
    """Sample times from `start` to `end` inclusive, aligned on `start`."""
    first = start.timestamp()
    last = end.timestamp()
    k = 0
    while first + k * step_seconds <= last:
        yield first + k * step_seconds
        k += 1


def latency_cdf(latency_ms: dict[float, float], bounds: tuple[float, ...]) -> list[float]:
    """Cumulative share of requests at each bucket bound (ascending), such that
    `histogram_quantile` (linear interpolation inside a bucket) returns exactly
    `latency_ms[p]` for every percentile p.

    For a percentile q in bucket (lo, hi] at value v, the bucket gets mass m and
    F(lo) = q - m (v - lo)/(hi - lo), F(hi) = q + m (hi - v)/(hi - lo), with m
    half the smaller gap to the neighbouring percentiles, so F stays monotone.
    Bounds between those buckets are interpolated linearly in value.
    """
    points = sorted((p / 100.0, float(v)) for p, v in latency_ms.items())
    anchors: dict[int, float] = {}
    previous_index = -2
    for k, (q, value) in enumerate(points):
        index = next((i for i, bound in enumerate(bounds) if value <= bound), None)
        if index is None:
            raise ValueError(f"latency {value} ms is above the largest bucket bound {bounds[-1]}")
        if index == 0:
            raise ValueError(f"latency {value} ms is in the first bucket (<= {bounds[0]} ms)")
        if index - previous_index < 2:
            raise ValueError(f"latency {value} ms: percentiles need a free bucket between them")
        previous_index = index
        lo = bounds[index - 1]
        hi = bounds[index]
        below = q - (points[k - 1][0] if k > 0 else 0.0)
        above = (points[k + 1][0] if k + 1 < len(points) else 1.0) - q
        mass = 0.5 * min(below, above)
        anchors[index] = q + mass * (hi - value) / (hi - lo)
        anchors[index - 1] = q - mass * (value - lo) / (hi - lo)
    anchors.setdefault(len(bounds) - 1, 1.0)
    known = sorted(anchors.items())
    cdf = []
    for i, bound in enumerate(bounds):
        if i in anchors:
            cdf.append(anchors[i])
            continue
        left = max(((j, f) for j, f in known if j < i), default=None)
        right = min(((j, f) for j, f in known if j > i), default=None)
        lo_bound, lo_f = (bounds[left[0]], left[1]) if left else (0.0, 0.0)
        hi_bound, hi_f = bounds[right[0]], right[1]
        cdf.append(lo_f + (hi_f - lo_f) * (bound - lo_bound) / (hi_bound - lo_bound))
    return cdf


class _DailyCounter:
    """A counter whose daily increments are spread evenly over each day."""

    def __init__(self, start: datetime, per_day: list[float]):
        self.start = start.timestamp()
        self.per_day = per_day
        self.before = [0.0]
        for value in per_day:
            self.before.append(self.before[-1] + value)

    def at(self, t: float) -> float:
        elapsed = (t - self.start) / DAY_SECONDS
        index = int(elapsed)
        if index >= len(self.per_day):
            return self.before[-1]
        return self.before[index] + self.per_day[index] * (elapsed - index)


def span_metrics_openmetrics(
    services: Iterable[ServiceTraffic],
    *,
    end: datetime,
    step_seconds: int = DEFAULT_STEP_SECONDS,
    buckets_ms: tuple[float, ...] = DEFAULT_LATENCY_BUCKETS_MS,
    naming: str = "collector",
) -> str:
    """OpenMetrics families (without `# EOF`) of span metrics for `services`,
    named as `naming` (a key of SPAN_NAMINGS) names them.

    Each service's days must be consecutive; samples run from the first day's
    midnight to `end` (traffic stops after the last listed day).
    """
    services = list(services)
    names = SPAN_NAMINGS[naming]
    calls_name, duration_name = names.calls, names.duration
    calls: list[str] = [f"# TYPE {calls_name} counter"]
    duration: list[str] = [f"# TYPE {duration_name} histogram"]
    bounds = tuple(buckets_ms) + (math.inf,)
    for traffic in services:
        days = traffic.days
        for previous, current in zip(days, days[1:], strict=False):
            if current.day != previous.day + timedelta(days=1):
                raise ValueError(f"{traffic.service}: days must be consecutive ({previous.day} -> {current.day})")
        start = _midnight(days[0].day)
        times = list(_timestamps(start, end, step_seconds))
        server = {names.service_label: traffic.service, "span_name": "request", "span_kind": "SPAN_KIND_SERVER"}
        series = [
            ({**server, "status_code": "STATUS_CODE_UNSET"}, lambda d: d.good),
            ({**server, "status_code": "STATUS_CODE_ERROR"}, lambda d: d.errors),
            (
                {**server, "span_kind": "SPAN_KIND_CLIENT", "status_code": "STATUS_CODE_UNSET"},
                lambda d, r=traffic.client_error_ratio: d.total * (1 - r),
            ),
            (
                {**server, "span_kind": "SPAN_KIND_CLIENT", "status_code": "STATUS_CODE_ERROR"},
                lambda d, r=traffic.client_error_ratio: d.total * r,
            ),
        ]
        for labels, value_of in series:
            rendered = _labels(**labels)
            counter = _DailyCounter(start, [value_of(d) for d in days])
            calls.extend(f"{calls_name}_total{rendered} {counter.at(t):.6f} {t:.3f}" for t in times)

        if not any(d.latency_ms for d in days):
            continue
        shares = [latency_cdf(d.latency_ms, tuple(buckets_ms)) + [1.0] if d.latency_ms else None for d in days]
        observed = [d.total if share else 0.0 for d, share in zip(days, shares, strict=True)]
        buckets = [
            _DailyCounter(start, [n * share[i] if share else 0.0 for n, share in zip(observed, shares, strict=True)])
            for i in range(len(bounds))
        ]
        count = _DailyCounter(start, observed)
        # _sum only needs to be plausible: the median times the count.
        total_ms = _DailyCounter(
            start, [n * d.latency_ms.get(50.0, 0.0) / names.unit_ms for n, d in zip(observed, days, strict=True)]
        )
        hist = {**server, "status_code": "STATUS_CODE_UNSET"}
        bucket_labels = [_labels(**hist, le=_format_bound(bound / names.unit_ms)) for bound in bounds]
        plain = _labels(**hist)
        for t in times:
            duration.extend(
                f"{duration_name}_bucket{rendered} {counter.at(t):.6f} {t:.3f}"
                for rendered, counter in zip(bucket_labels, buckets, strict=True)
            )
            duration.append(f"{duration_name}_count{plain} {count.at(t):.6f} {t:.3f}")
            duration.append(f"{duration_name}_sum{plain} {total_ms.at(t):.6f} {t:.3f}")
    return "\n".join(calls + duration) + "\n"


def service_graph_openmetrics(
    edges: Iterable[GraphEdge], *, start: datetime, end: datetime, step_seconds: int = 60,
    failed_label: bool = False,
) -> str:
    """OpenMetrics families (without `# EOF`) of service-graph request
    counters over [start, end]; an edge stops counting at its `active_until`.
    `failed_label` splits each request series into failed="false"/"true"
    (the Collector's shape; Tempo has no such label)."""
    lines = [f"# TYPE {SERVICE_GRAPH_REQUESTS} counter"]
    failed_lines = [f"# TYPE {SERVICE_GRAPH_FAILED} counter"]
    for edge in edges:
        pair = {"client": edge.client, "server": edge.server, "connection_type": edge.connection_type}
        rate = edge.requests_per_hour / 3600.0
        stop = min(end, edge.active_until) if edge.active_until else end
        shares = ([({**pair, "failed": "false"}, 1 - edge.failure_ratio), ({**pair, "failed": "true"},
                   edge.failure_ratio)] if failed_label else [(pair, 1.0)])
        for labels, share in shares:
            rendered = _labels(**labels)
            for t in _timestamps(start, stop, step_seconds):
                lines.append(
                    f"{SERVICE_GRAPH_REQUESTS}_total{rendered} {share * rate * (t - start.timestamp()):.6f} {t:.3f}")
        if edge.failure_ratio > 0:
            rendered = _labels(**pair)
            for t in _timestamps(start, stop, step_seconds):
                value = edge.failure_ratio * rate * (t - start.timestamp())
                failed_lines.append(f"{SERVICE_GRAPH_FAILED}_total{rendered} {value:.6f} {t:.3f}")
    return "\n".join(lines + (failed_lines if len(failed_lines) > 1 else [])) + "\n"


def istio_openmetrics(edges: Iterable[MeshEdge], *, start: datetime, end: datetime, step_seconds: int = 60) -> str:
    """Istio's standard metrics, as the client-side proxies report them, for `edges`."""
    requests_lines = ["# TYPE istio_requests counter"]
    tcp_lines = ["# TYPE istio_tcp_sent_bytes counter"]
    for edge in edges:
        labels = {"reporter": "source", "source_workload": edge.source,
                  "source_workload_namespace": edge.namespace, "destination_workload": edge.destination,
                  "destination_workload_namespace": edge.namespace,
                  "destination_service_name": edge.destination, "request_protocol": "http"}
        rate = edge.requests_per_hour / 3600.0
        if edge.tcp:
            rendered = _labels(**{**labels, "request_protocol": "tcp"})
            tcp_lines.extend(f"istio_tcp_sent_bytes_total{rendered} {512 * rate * (t - start.timestamp()):.6f} {t:.3f}"
                             for t in _timestamps(start, end, step_seconds))
            continue
        for code, share in (("200", 1 - edge.failure_ratio), ("503", edge.failure_ratio)):
            if share <= 0:
                continue
            rendered = _labels(**labels, response_code=code)
            requests_lines.extend(
                f"istio_requests_total{rendered} {share * rate * (t - start.timestamp()):.6f} {t:.3f}"
                for t in _timestamps(start, end, step_seconds))
    return "".join("\n".join(family) + "\n" for family in (requests_lines, tcp_lines) if len(family) > 1)


def linkerd_openmetrics(edges: Iterable[MeshEdge], *, start: datetime, end: datetime, step_seconds: int = 60) -> str:
    """Linkerd proxies' `response_total` (outbound side) for `edges`."""
    lines = ["# TYPE response counter"]
    for edge in edges:
        labels = {"direction": "outbound", "deployment": edge.source, "namespace": edge.namespace,
                  "dst_deployment": edge.destination, "dst_namespace": edge.namespace}
        rate = edge.requests_per_hour / 3600.0
        for classification, share in (("success", 1 - edge.failure_ratio), ("failure", edge.failure_ratio)):
            if share <= 0:
                continue
            rendered = _labels(**labels, classification=classification)
            lines.extend(f"response_total{rendered} {share * rate * (t - start.timestamp()):.6f} {t:.3f}"
                         for t in _timestamps(start, end, step_seconds))
    return "\n".join(lines) + "\n"


def openmetrics_document(*families: str) -> str:
    """Join generated families into one OpenMetrics document."""
    return "".join(families) + "# EOF\n"


def daily_traffic(
    *,
    start: date,
    days: int,
    total: int = 86_400,
    availability: float | Iterable[float] = 0.999,
    latency_ms: dict[float, float] | None = None,
) -> list[DailyTraffic]:
    """`days` consecutive days from `start` with `total` requests a day and the
    given availability (a constant or one value per day)."""
    ratios = [availability] * days if isinstance(availability, int | float) else list(availability)
    return [
        DailyTraffic(
            day=start + timedelta(days=i),
            total=total,
            errors=round(total * (1 - ratios[i])),
            latency_ms=dict(latency_ms or {}),
        )
        for i in range(days)
    ]


@dataclass
class PrometheusServer:
    """A Prometheus process on 127.0.0.1 serving `data_dir`."""

    data_dir: Path
    config_file: Path
    port: int
    log_file: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 60.0) -> PrometheusServer:
        """Start (or restart) the process and wait until it is ready."""
        if self.process is not None and self.process.poll() is None:
            return self
        log = self.log_file.open("ab")
        self.process = subprocess.Popen(
            [
                PROMETHEUS_BINARY,
                f"--config.file={self.config_file}",
                f"--storage.tsdb.path={self.data_dir}",
                # Backfilled blocks older than the retention would be deleted at start.
                "--storage.tsdb.retention.time=3650d",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.process.returncode}: {self._log_tail()}")
            try:
                if requests.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"prometheus not ready after {timeout}s: {self._log_tail()}")

    def stop(self) -> None:
        """Stop the process (the data directory stays, `start()` serves it again)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def _log_tail(self) -> str:
        return self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""


def backfill(openmetrics: str, data_dir: Path, *, work_dir: Path) -> None:
    """Turn an OpenMetrics document into TSDB blocks under `data_dir`."""
    source = work_dir / "history.om"
    source.write_text(openmetrics)
    result = subprocess.run(
        # Long blocks keep the block count (and Prometheus's start time) small.
        [PROMTOOL_BINARY, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=2400h",
         str(source), str(data_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"promtool backfill failed: {result.stderr[-2000:] or result.stdout[-2000:]}")
    source.unlink()


@pytest.fixture(scope="session")
def prometheus_factory(tmp_path_factory):
    """Session-scoped factory: `prometheus_factory(openmetrics_text=None)`
    starts a real Prometheus with that history and returns a running
    `PrometheusServer`. All servers are stopped at the end of the session."""
    if not Path(PROMETHEUS_BINARY).exists() or not Path(PROMTOOL_BINARY).exists():
        pytest.fail("prometheus/promtool not installed: run `make system-deps` (scripts/ensure_system_packages.sh)")
    servers: list[PrometheusServer] = []

    def start(openmetrics: str | None = None) -> PrometheusServer:
        work_dir = tmp_path_factory.mktemp("prometheus")
        data_dir = work_dir / "data"
        data_dir.mkdir()
        if openmetrics:
            backfill(openmetrics, data_dir, work_dir=work_dir)
        config = work_dir / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1m\nscrape_configs: []\n")
        server = PrometheusServer(data_dir=data_dir, config_file=config, port=free_port(), log_file=work_dir / "log")
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def openmetrics():
    """This module, so tests build their history with `openmetrics.ServiceTraffic`,
    `openmetrics.span_metrics_openmetrics(...)` etc. without importing `testing`."""
    return sys.modules[__name__]
