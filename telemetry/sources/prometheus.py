"""The Prometheus telemetry source (DESIGN.md section 8).

Reads OpenTelemetry span metrics and service-graph metrics over the
Prometheus HTTP API. The two producers people run name span metrics
differently (the Collector's spanmetrics connector: `traces_span_metrics_*`,
label `service_name`, latency in ms or `_duration_seconds`; Grafana Tempo's
metrics-generator: `traces_spanmetrics_*`, label `service`, latency in
seconds); the source asks Prometheus which names exist (cached per process
for NAMING_CACHE_SECONDS) and builds its queries from them. Latency is always
returned in ms: a histogram in seconds (by its name) is scaled.

Every query is a PromQL template with `$service`, `$window` and (latency)
`$quantile` placeholders; the detected ones can be replaced by settings
(`PROMQL_TOTAL`, `PROMQL_ERRORS`, `PROMQL_LATENCY`, `PROMQL_LATENCY_BUCKETS`,
`PROMQL_SERVICE_GRAPH`, `PROMQL_SERVICE_GRAPH_FAILED`) and, per service, by
`metadata.promql`, a dict with the keys `total`, `errors`, `latency`,
`latency_buckets`.

Errors: connection refused, timeouts and 5xx answers are retried with
exponential backoff, then raise `TelemetryUnavailable`; a query Prometheus
rejects (HTTP 400/422, e.g. a PromQL syntax error) raises
`TelemetryQueryError` carrying the query and Prometheus's message. A query
that matches nothing is not an error: the history simply has no days.
"""

import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from string import Template

import requests
from django.conf import settings

from telemetry.sources.base import (
    DailySli,
    EdgeTraffic,
    EventCounts,
    ObservedEdge,
    SliHistory,
    SloEvents,
    TelemetryError,
    TelemetryQueryError,
    TelemetryUnavailable,
    WindowSli,
    duration_seconds,
)

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class SpanMetricsNaming:
    """How one span-metrics producer names its series (DESIGN.md section 8).

    `latency_metric` is the histogram's base name (`_bucket` is appended);
    its unit follows from the name (see `latency_scale_of`)."""

    name: str
    calls_metric: str
    latency_metric: str
    service_label: str
    span_kind_label: str
    server_kind: str
    status_label: str
    error_status: str

    @property
    def metric_names(self) -> tuple[str, ...]:
        return (self.calls_metric, f"{self.latency_metric}_bucket")

    def server_selector(self, *, errors: bool = False) -> str:
        labels = [f'{self.service_label}="$service"', f'{self.span_kind_label}="{self.server_kind}"']
        if errors:
            labels.append(f'{self.status_label}="{self.error_status}"')
        return "{" + ",".join(labels) + "}"

    def templates(self) -> dict[str, str]:
        """PromQL templates of this naming (latency in the histogram's unit)."""
        server = self.server_selector()
        bucket = f"{self.latency_metric}_bucket"
        return {
            "total": f"sum(increase({self.calls_metric}{server}[$window]))",
            "errors": f"sum(increase({self.calls_metric}{self.server_selector(errors=True)}[$window]))",
            "latency": f"histogram_quantile($quantile, sum by (le) (rate({bucket}{server}[$window])))",
            # The histogram's bucket bounds (its `le` labels), for rounding latency targets.
            "latency_buckets": f"count by (le) (last_over_time({bucket}{server}[$window]))",
        }


# The OpenTelemetry Collector's spanmetrics connector (unit ms, the default),
# the same with `unit: s`, and Grafana Tempo's metrics-generator (seconds).
COLLECTOR_NAMING = SpanMetricsNaming(
    name="otel_collector", calls_metric="traces_span_metrics_calls_total",
    latency_metric="traces_span_metrics_duration_milliseconds", service_label="service_name",
    span_kind_label="span_kind", server_kind="SPAN_KIND_SERVER", status_label="status_code",
    error_status="STATUS_CODE_ERROR",
)
COLLECTOR_SECONDS_NAMING = SpanMetricsNaming(
    name="otel_collector_seconds", calls_metric="traces_span_metrics_calls_total",
    latency_metric="traces_span_metrics_duration_seconds", service_label="service_name",
    span_kind_label="span_kind", server_kind="SPAN_KIND_SERVER", status_label="status_code",
    error_status="STATUS_CODE_ERROR",
)
TEMPO_NAMING = SpanMetricsNaming(
    name="tempo", calls_metric="traces_spanmetrics_calls_total", latency_metric="traces_spanmetrics_latency",
    service_label="service", span_kind_label="span_kind", server_kind="SPAN_KIND_SERVER",
    status_label="status_code", error_status="STATUS_CODE_ERROR",
)
# Preference order when several producers write to one Prometheus.
NAMINGS: tuple[SpanMetricsNaming, ...] = (COLLECTOR_NAMING, COLLECTOR_SECONDS_NAMING, TEMPO_NAMING)
# How long a process trusts its answer to "which names exist" (seconds).
NAMING_CACHE_SECONDS = 300.0
_naming_cache: dict[str, tuple[float, SpanMetricsNaming | None]] = {}



def naming_cache_clear() -> None:
    """Forget every detected naming (the next query of each server asks again)."""
    _naming_cache.clear()


SERVICE_GRAPH_QUERIES: dict[str, str] = {
    # The Collector adds a `failed` label to every series; summing by the pair
    # (without it) folds both halves into one edge.
    "service_graph": (
        "sum by (client, server, connection_type) "
        "(increase(traces_service_graph_request_total[$window])) > 0"
    ),
    "service_graph_failed": (
        "sum by (client, server, connection_type) "
        "(increase(traces_service_graph_request_failed_total[$window]))"
    ),
}

SPAN_METRICS_KEYS = ("total", "errors", "latency", "latency_buckets")
# Span metrics older than this do not decide the naming.
NAMING_LOOKBACK = timedelta(days=7)
# A histogram metric name in a PromQL template, with its selector if any.
_BUCKET_METRIC = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)_bucket\s*(\{[^}]*\})?")


def histogram_of(template: str) -> tuple[str, str, float] | None:
    """(bucket series name, its selector `{...}` or "", ms per unit) of the
    first histogram a template reads; None when it reads none."""
    match = _BUCKET_METRIC.search(template)
    if match is None:
        return None
    return f"{match.group(1)}_bucket", match.group(2) or "", latency_scale_of(template)


def latency_scale_of(template: str) -> float:
    """The factor that turns the latency unit of a user's template into ms:
    1000 when its histogram is in seconds (`*_seconds_bucket`, Tempo's
    `traces_spanmetrics_latency_bucket`), else 1."""
    match = _BUCKET_METRIC.search(template)
    if match and (match.group(1).endswith("_seconds") or match.group(1) == TEMPO_NAMING.latency_metric):
        return 1000.0
    return 1.0


PROMQL_SETTINGS = {
    "total": "PROMQL_TOTAL",
    "errors": "PROMQL_ERRORS",
    "latency": "PROMQL_LATENCY",
    "latency_buckets": "PROMQL_LATENCY_BUCKETS",
    "service_graph": "PROMQL_SERVICE_GRAPH",
    "service_graph_failed": "PROMQL_SERVICE_GRAPH_FAILED",
}

# Percentiles read for daily history and aggregates, with their SliType names.
LATENCY_PERCENTILES: dict[float, str] = {50.0: "latency_p50", 95.0: "latency_p95", 99.0: "latency_p99",
                                         99.9: "latency_p999"}
WINDOW_SECONDS = {"1h": 3600, "1d": 86_400, "7d": 7 * 86_400, "28d": 28 * 86_400, "90d": 90 * 86_400}
DAY = timedelta(days=1)

_RETRY_STATUS = {500, 502, 503, 504}


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def le_matcher(bound: float) -> str:
    """A matcher for one `le` bound however the producer spelled it (`0.25`,
    `250`, `250.0`)."""
    spellings = dict.fromkeys((f"{bound:g}", repr(float(bound)), f"{bound:f}".rstrip("0").rstrip(".")))
    if len(spellings) == 1:
        return f'le="{next(iter(spellings))}"'
    return 'le=~"' + "|".join(re.escape(s).replace("\\", "\\\\") for s in spellings) + '"'


def _number(raw: str) -> float | None:
    value = float(raw)
    return None if math.isnan(value) or math.isinf(value) else value


class PrometheusSource:
    """Telemetry from a Prometheus server at `base_url`.

    `timeout` (seconds) bounds each HTTP request; `retries` is how many times
    a transient failure is retried (with `backoff` * 2^attempt seconds between
    attempts) before `TelemetryUnavailable`. `promql` overrides query
    templates for every service (settings are used when it is None).
    """

    name = "prometheus"

    def __init__(
        self,
        base_url: str,
        timeout: float = 10.0,
        retries: int = 3,
        *,
        backoff: float = 0.5,
        promql: dict[str, str] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        if promql is None:
            promql = {key: getattr(settings, name, "") for key, name in PROMQL_SETTINGS.items()}
        # Explicit templates; the span-metrics ones not given here follow the detected naming.
        self.overrides = {key: value for key, value in promql.items() if value}
        self.session = requests.Session()

    # --- HTTP API ---------------------------------------------------------

    def query(self, promql: str, time: datetime | None = None) -> list[dict]:
        """Instant query; returns Prometheus's `result` list (vector samples
        `{"metric": {...}, "value": [ts, "v"]}`; a scalar becomes one sample)."""
        params = {"query": promql}
        if time is not None:
            params["time"] = f"{time.timestamp():.3f}"
        data = self._call("/api/v1/query", params, promql)
        if data.get("resultType") in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return data.get("result", [])

    def query_range(self, promql: str, start: datetime, end: datetime, step: timedelta | float) -> list[dict]:
        """Range query; returns Prometheus's `result` list (matrix series
        `{"metric": {...}, "values": [[ts, "v"], ...]}`)."""
        step_seconds = step.total_seconds() if isinstance(step, timedelta) else float(step)
        params = {
            "query": promql,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": f"{step_seconds:g}",
        }
        return self._call("/api/v1/query_range", params, promql).get("result", [])

    def _call(self, path: str, params: dict, promql: str, *, method: str = "POST") -> dict | list:
        url = f"{self.base_url}{path}"
        last_error = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                # POST keeps long queries out of the URL; Prometheus accepts both
                # for queries (label values are GET only).
                if method == "GET":
                    response = self.session.get(url, params=params, timeout=self.timeout)
                else:
                    response = self.session.post(url, data=params, timeout=self.timeout)
            except requests.Timeout:
                last_error = f"timed out after {self.timeout} s"
                continue
            except requests.ConnectionError as exc:
                last_error = f"connection failed ({type(exc).__name__})"
                continue
            if response.status_code in _RETRY_STATUS:
                last_error = f"HTTP {response.status_code}: {self._error_message(response)}"
                continue
            if response.status_code in (400, 422):
                raise TelemetryQueryError(
                    f"Prometheus rejected the query: {self._error_message(response)}", query=promql
                )
            if response.status_code != 200:
                raise TelemetryError(
                    f"Prometheus at {self.base_url} answered HTTP {response.status_code}: "
                    f"{self._error_message(response)} (query: {promql})"
                )
            try:
                body = response.json()
            except ValueError as exc:
                raise TelemetryError(f"Prometheus at {self.base_url} answered with invalid JSON") from exc
            if body.get("status") != "success":
                raise TelemetryQueryError(
                    f"Prometheus rejected the query: {body.get('errorType', '')}: {body.get('error', '')}",
                    query=promql,
                )
            for warning in body.get("warnings") or ():
                logger.warning("Prometheus warning for %s: %s", promql, warning)
            return body.get("data") or ({} if method == "POST" else [])
        raise TelemetryUnavailable(
            f"Prometheus at {self.base_url} is unavailable: {last_error} "
            f"(after {self.retries + 1} attempt(s); query: {promql})"
        )

    @staticmethod
    def _error_message(response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return response.text[:500].strip() or response.reason
        return f"{body.get('errorType', 'error')}: {body.get('error', '')}".strip()

    # --- queries ----------------------------------------------------------

    def metric_names(self, candidates: tuple[str, ...], *, lookback: timedelta = NAMING_LOOKBACK) -> set[str]:
        """Which of `candidates` have series in the trailing `lookback` (one
        label-values request, matched by a regex on `__name__`)."""
        pattern = "|".join(re.escape(name) for name in candidates)
        now = datetime.now(UTC)
        params = {"match[]": f'{{__name__=~"{pattern}"}}', "start": f"{(now - lookback).timestamp():.3f}",
                  "end": f"{now.timestamp():.3f}"}
        found = self._call("/api/v1/label/__name__/values", params, params["match[]"], method="GET")
        return set(found) & set(candidates) if isinstance(found, list) else set()

    def detect_naming(self, *, refresh: bool = False) -> SpanMetricsNaming | None:
        """The span-metrics naming this Prometheus holds (None: no span
        metrics at all). Asked once per process and server, then trusted for
        NAMING_CACHE_SECONDS. The first naming in NAMINGS with both its calls
        and its histogram wins, else the first with its calls."""
        cached = _naming_cache.get(self.base_url)
        now = time.monotonic()
        if cached and cached[0] > now and not refresh:
            return cached[1]
        try:
            names = self.metric_names(tuple(dict.fromkeys(n for naming in NAMINGS for n in naming.metric_names)))
        except TelemetryError:
            if cached is None:
                raise
            # An expired answer beats none while Prometheus is away.
            logger.warning("span-metric naming at %s not refreshed: Prometheus failed", self.base_url)
            return cached[1]
        naming = next((n for n in NAMINGS if set(n.metric_names) <= names), None) or next(
            (n for n in NAMINGS if n.calls_metric in names), None)
        _naming_cache[self.base_url] = (now + NAMING_CACHE_SECONDS, naming)
        if naming is not None:
            logger.info("span metrics at %s use the %s naming", self.base_url, naming.name)
        return naming

    def templates(self, metadata: dict | None = None, *, detect: bool = True) -> dict[str, str]:
        """The PromQL templates for a service: its `metadata.promql`, then the
        settings, then the detected naming (the Collector's when none is found
        or when not `detect`)."""
        templates = dict(SERVICE_GRAPH_QUERIES)
        overrides = (metadata or {}).get("promql") or {}
        overrides = {k: v for k, v in overrides.items() if isinstance(v, str) and v} if isinstance(
            overrides, dict) else {}
        explicit = {**self.overrides, **overrides}
        if not all(key in explicit for key in SPAN_METRICS_KEYS):
            naming = self.detect_naming() if detect else None
            templates.update((naming or COLLECTOR_NAMING).templates())
        templates.update(explicit)
        return templates

    def looked_for(self, metadata: dict | None = None, *, service_id: str = "$service") -> tuple[str, ...]:
        """What a service with no data was looked up as: the selector its
        calls are counted with, and when nothing is detected the names of
        every producer tried."""
        total = Template(self.templates(metadata)["total"]).safe_substitute(service=service_id)
        match = re.search(r"[a-zA-Z_:][a-zA-Z0-9_:]*\{[^}]*\}", total)
        looked = [match.group(0) if match else total]
        promql = (metadata or {}).get("promql")
        total_given = "total" in self.overrides or (isinstance(promql, dict) and bool(promql.get("total")))
        if not total_given and self.detect_naming() is None:
            looked.extend(name for naming in NAMINGS for name in naming.metric_names
                          if name not in looked[0])
        return tuple(dict.fromkeys(looked))

    def _expression(self, key: str, metadata: dict | None, **values) -> str:
        return Template(self.templates(metadata)[key]).safe_substitute(**values)

    def _latency_scale(self, key: str, metadata: dict | None) -> float:
        return latency_scale_of(self.templates(metadata)[key])

    def _daily_values(self, expression: str, *, start: datetime, end: datetime, combine=sum) -> dict[date, float]:
        """Values of `expression` at each midnight in [start, end], keyed by
        the day that ends at that midnight. Several series (a custom query
        without an aggregation) are combined: summed for counts, the maximum
        for latencies."""
        series = self.query_range(expression, start, end, DAY)
        values: dict[date, float] = {}
        for item in series:
            for timestamp, raw in item.get("values", []):
                value = _number(raw)
                if value is not None:
                    day = (datetime.fromtimestamp(float(timestamp), tz=UTC) - DAY).date()
                    values[day] = combine((values[day], value)) if day in values else value
        return values

    def daily_history(self, service_id: str, *, start: date, end: date, metadata: dict | None = None) -> SliHistory:
        """Daily good/total events and p50/p95/p99/p99.9 latency over [start, end].

        Each day is `increase(...[1d])` evaluated at the following UTC midnight
        (a `query_range` with a 1d step); days not over yet, and days without
        data, are absent from `days`. Errors missing on a day with traffic
        count as zero errors (the error series only exists once an error was seen).
        """
        if end < start:
            raise ValueError("end must not be before start")
        now = datetime.now(UTC)
        first = _midnight(start + DAY)
        last = _midnight(end + DAY)
        while last > now:
            last -= DAY
        bounds = self.latency_bucket_bounds_ms(service_id, window=f"{(end - start).days + 1}d", metadata=metadata)
        if last < first:
            return SliHistory(service_id=service_id, start=start, end=end, days=(), latency_bucket_bounds_ms=bounds,
                              looked_for=self.looked_for(metadata, service_id=service_id))

        totals = self._daily_values(self._expression("total", metadata, service=service_id, window="1d"),
                                    start=first, end=last)
        errors = self._daily_values(self._expression("errors", metadata, service=service_id, window="1d"),
                                    start=first, end=last)
        latency: dict[float, dict[date, float]] = {}
        scale = self._latency_scale("latency", metadata)
        for percentile in LATENCY_PERCENTILES:
            expression = self._expression(
                "latency", metadata, service=service_id, window="1d", quantile=f"{percentile / 100:g}"
            )
            daily = self._daily_values(expression, start=first, end=last, combine=max)
            latency[percentile] = {day: value * scale for day, value in daily.items()}

        days = []
        for day in sorted(totals):
            total = totals[day]
            percentiles = {p: values[day] for p, values in latency.items() if day in values}
            days.append(DailySli(day=day, good=total - errors.get(day, 0.0), total=total, latency_ms=percentiles))
        return SliHistory(
            service_id=service_id, start=start, end=end, days=tuple(days), latency_bucket_bounds_ms=bounds,
            looked_for=() if days else self.looked_for(metadata, service_id=service_id),
        )

    def latency_bucket_bounds_ms(self, service_id: str, *, window: str, metadata: dict | None = None) -> tuple:
        """Finite `le` bounds (ms, ascending) of the service's latency histogram
        seen in the trailing `window`; empty when there is none. Bounds of a
        histogram in seconds are converted."""
        expression = self._expression("latency_buckets", metadata, service=service_id, window=window)
        scale = self._latency_scale("latency_buckets", metadata)
        bounds = set()
        for item in self.query(expression):
            raw = item.get("metric", {}).get("le")
            if raw is None:
                continue
            try:
                bound = float(raw)
            except ValueError:
                continue
            if math.isfinite(bound):
                bounds.add(round(bound * scale, 9))
        return tuple(sorted(bounds))

    def _instant_value(self, expression: str, combine=sum) -> float | None:
        values = [_number(item["value"][1]) for item in self.query(expression) if "value" in item]
        values = [value for value in values if value is not None]
        return combine(values) if values else None

    def window_sli(self, service_id: str, *, window: str, metadata: dict | None = None) -> WindowSli:
        """SLI values over the trailing `window`, evaluated now: availability
        and error_rate (when there was traffic), throughput (requests/s),
        latency percentiles (when the histogram has data)."""
        if window not in WINDOW_SECONDS:
            raise ValueError(f"window must be one of {sorted(WINDOW_SECONDS)}")
        values: dict[str, float] = {}
        total = self._instant_value(self._expression("total", metadata, service=service_id, window=window)) or 0.0
        if total > 0:
            scale = self._latency_scale("latency", metadata)
            errors = self._instant_value(self._expression("errors", metadata, service=service_id, window=window))
            error_rate = min(max((errors or 0.0) / total, 0.0), 1.0)
            values["availability"] = 1.0 - error_rate
            values["error_rate"] = error_rate
            values["throughput"] = total / WINDOW_SECONDS[window]
            for percentile, sli_type in LATENCY_PERCENTILES.items():
                expression = self._expression(
                    "latency", metadata, service=service_id, window=window, quantile=f"{percentile / 100:g}"
                )
                latency = self._instant_value(expression, combine=max)
                if latency is not None:
                    values[sli_type] = latency * scale
        return WindowSli(service_id=service_id, window=window, values=values, sample_count=round(total))

    def service_graph_edges(self, *, lookback: str) -> list[ObservedEdge]:
        """Edges of the OTel service graph with requests in the trailing
        `lookback`, with their failed requests (0 when the pair has no
        failure series)."""
        window_seconds = duration_seconds(lookback)
        failed: dict[tuple[str, str, str], float] = {}
        for item in self.query(self._expression("service_graph_failed", None, window=lookback)):
            labels = item.get("metric", {})
            value = _number(item.get("value", [0, "nan"])[1])
            if value is not None:
                key = (labels.get("client", ""), labels.get("server", ""), labels.get("connection_type", ""))
                failed[key] = failed.get(key, 0.0) + value
        edges = []
        for item in self.query(self._expression("service_graph", None, window=lookback)):
            labels = item.get("metric", {})
            value = _number(item.get("value", [0, "nan"])[1])
            if not labels.get("client") or not labels.get("server") or value is None:
                continue
            key = (labels["client"], labels["server"], labels.get("connection_type", ""))
            edges.append(
                ObservedEdge(
                    client=key[0],
                    server=key[1],
                    connection_type=key[2],
                    request_count=value,
                    failed_count=min(failed.get(key, 0.0), value),
                    window_seconds=window_seconds,
                )
            )
        return sorted(edges, key=lambda edge: (edge.client, edge.server, edge.connection_type))

    # --- edge traffic (the dependency ceiling) ------------------------------

    def edge_traffic(self, *, start: date, end: date) -> list[EdgeTraffic]:
        """Requests and failed requests of every client->server pair of the
        service graph over the days [start, end]: `increase(...)` over the
        span, evaluated at the midnight that ends it (or now, if that is
        still to come). Summing by (client, server) drops the Collector's
        `failed` label and the connection type, so each pair is one edge."""
        if end < start:
            raise ValueError("end must not be before start")
        at = min(_midnight(end + DAY), datetime.now(UTC))
        window = f"{(end - start).days + 1}d"
        # Discovery's queries (PROMQL_SERVICE_GRAPH* overrides included),
        # summed over the connection type by _pair_totals.
        requests_by_pair = self._pair_totals(self._expression("service_graph", None, window=window), at=at)
        failed_by_pair = self._pair_totals(self._expression("service_graph_failed", None, window=window), at=at)
        return [EdgeTraffic(client=client, server=server, requests=requests,
                            failed=min(failed_by_pair.get((client, server), 0.0), requests))
                for (client, server), requests in sorted(requests_by_pair.items()) if requests > 0]

    def _pair_totals(self, expression: str, *, at: datetime) -> dict[tuple[str, str], float]:
        totals: dict[tuple[str, str], float] = {}
        for item in self.query(expression, time=at):
            labels = item.get("metric", {})
            value = _number(item.get("value", [0, "nan"])[1])
            if labels.get("client") and labels.get("server") and value is not None:
                pair = (labels["client"], labels["server"])
                totals[pair] = totals.get(pair, 0.0) + value
        return totals

    # --- SLO scoring ---------------------------------------------------------

    def _event_expressions(self, service_id: str, threshold_ms: float | None,
                           metadata: dict | None) -> tuple[Template, Template, bool]:
        """(total, bad-or-good, is_good) templates with `$window` left open:
        availability counts errors, latency counts requests under the threshold."""
        templates = self.templates(metadata)
        if threshold_ms is None:
            total = Template(Template(templates["total"]).safe_substitute(service=service_id))
            errors = Template(Template(templates["errors"]).safe_substitute(service=service_id))
            return total, errors, False
        # The histogram the latency percentiles come from, in its own unit.
        histogram = histogram_of(templates["latency"]) or histogram_of(templates["latency_buckets"])
        if histogram is None:
            raise TelemetryQueryError("the latency query names no histogram (*_bucket) to count requests under "
                                      "the threshold from", query=templates["latency"])
        metric, selector, scale = histogram
        labels = Template(selector.strip("{}")).safe_substitute(service=service_id)
        prefix = f"{labels}," if labels.strip() else ""
        total = Template(f'sum(increase({metric}{{{prefix}le="+Inf"}}[$window]))')
        good = Template(f"sum(increase({metric}{{{prefix}{le_matcher(threshold_ms / scale)}}}[$window]))")
        return total, good, True

    def _windows_query(self, template: Template, windows: Sequence[str], at: datetime) -> dict[str, float]:
        """One instant query for all windows: each window's expression tagged
        with a `slo_window` label, joined with `or`; series are summed per window."""
        parts = [f'label_replace(({template.safe_substitute(window=w)}), "slo_window", "{w}", "", "")'
                 for w in windows]
        values: dict[str, float] = {}
        for item in self.query(" or ".join(parts), time=at):
            window = item.get("metric", {}).get("slo_window")
            value = _number(item["value"][1]) if "value" in item else None
            if window and value is not None:
                values[window] = values.get(window, 0.0) + value
        return values

    def _step_series(self, template: Template, *, start: datetime, end: datetime,
                     step: timedelta) -> dict[float, float]:
        """`increase` over each step, evaluated at each step's end."""
        expression = template.safe_substitute(window=f"{int(step.total_seconds())}s")
        values: dict[float, float] = {}
        for item in self.query_range(expression, start, end, step):
            for timestamp, raw in item.get("values", []):
                value = _number(raw)
                if value is not None:
                    values[float(timestamp)] = values.get(float(timestamp), 0.0) + value
        return values

    def slo_events(
        self,
        service_id: str,
        *,
        window_days: int,
        windows: Sequence[str],
        step: timedelta,
        at: datetime,
        threshold_ms: float | None = None,
        metadata: dict | None = None,
    ) -> SloEvents:
        """Events for scoring an SLO: two range queries over the window (one
        point per step) and two instant queries for all trailing windows.
        A missing error series on a step or window with traffic means no errors."""
        total_t, other_t, other_is_good = self._event_expressions(service_id, threshold_ms, metadata)
        start = at - timedelta(days=window_days) + step
        totals = self._step_series(total_t, start=start, end=at, step=step)
        others = self._step_series(other_t, start=start, end=at, step=step)
        series = []
        for timestamp in sorted(totals):
            total = totals[timestamp]
            other = others.get(timestamp, total if other_is_good else 0.0)
            good = other if other_is_good else total - other
            series.append((datetime.fromtimestamp(timestamp, tz=UTC), EventCounts(good=good, total=total)))
        window_totals = self._windows_query(total_t, windows, at)
        window_others = self._windows_query(other_t, windows, at)
        counts: dict[str, EventCounts | None] = {}
        for window in windows:
            total = window_totals.get(window)
            if not total or total <= 0:
                counts[window] = None
                continue
            other = window_others.get(window, total if other_is_good else 0.0)
            counts[window] = EventCounts(good=other if other_is_good else total - other, total=total)
        return SloEvents(series=tuple(series), windows=counts)
