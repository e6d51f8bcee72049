"""The Prometheus telemetry source (DESIGN.md section 8).

Reads OpenTelemetry span metrics (the Collector's span-metrics connector, or
Tempo's metrics generator) and service-graph metrics over the Prometheus HTTP
API. Every query is a PromQL template with `$service`, `$window` and (latency)
`$quantile` placeholders; the defaults below can be replaced by settings
(`PROMQL_TOTAL`, `PROMQL_ERRORS`, `PROMQL_LATENCY`, `PROMQL_LATENCY_BUCKETS`,
`PROMQL_SERVICE_GRAPH`) and, per service, by `metadata.promql`, a dict with
the keys `total`, `errors`, `latency`, `latency_buckets`.

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
from datetime import UTC, date, datetime, timedelta
from string import Template

import requests
from django.conf import settings

from telemetry.sources.base import (
    DailySli,
    EventCounts,
    ObservedEdge,
    SliHistory,
    SloEvents,
    TelemetryError,
    TelemetryQueryError,
    TelemetryUnavailable,
    WindowSli,
)

logger = logging.getLogger(__name__)

_SERVER = '{service_name="$service",span_kind="SPAN_KIND_SERVER"}'
_SERVER_ERRORS = '{service_name="$service",span_kind="SPAN_KIND_SERVER",status_code="STATUS_CODE_ERROR"}'

DEFAULT_PROMQL: dict[str, str] = {
    "total": f"sum(increase(traces_span_metrics_calls_total{_SERVER}[$window]))",
    "errors": f"sum(increase(traces_span_metrics_calls_total{_SERVER_ERRORS}[$window]))",
    "latency": (
        "histogram_quantile($quantile, sum by (le) "
        f"(rate(traces_span_metrics_duration_milliseconds_bucket{_SERVER}[$window])))"
    ),
    # The histogram's bucket bounds (its `le` labels), for rounding latency targets.
    "latency_buckets": (
        f"count by (le) (last_over_time(traces_span_metrics_duration_milliseconds_bucket{_SERVER}[$window]))"
    ),
    # Events under a latency threshold ($le: a regex matching the bucket bound,
    # "500" or "500.0") and all events, for latency SLOs.
    "latency_good": (
        "sum(increase(traces_span_metrics_duration_milliseconds_bucket"
        '{service_name="$service",span_kind="SPAN_KIND_SERVER",le=~"$le"}[$window]))'
    ),
    "latency_total": f"sum(increase(traces_span_metrics_duration_milliseconds_count{_SERVER}[$window]))",
    "service_graph": (
        "sum by (client, server, connection_type) "
        "(increase(traces_service_graph_request_total[$window])) > 0"
    ),
}
PROMQL_SETTINGS = {
    "total": "PROMQL_TOTAL",
    "errors": "PROMQL_ERRORS",
    "latency": "PROMQL_LATENCY",
    "latency_buckets": "PROMQL_LATENCY_BUCKETS",
    "service_graph": "PROMQL_SERVICE_GRAPH",
}

# Percentiles read for daily history and aggregates, with their SliType names.
LATENCY_PERCENTILES: dict[float, str] = {50.0: "latency_p50", 95.0: "latency_p95", 99.0: "latency_p99",
                                         99.9: "latency_p999"}
WINDOW_SECONDS = {"1h": 3600, "1d": 86_400, "7d": 7 * 86_400, "28d": 28 * 86_400, "90d": 90 * 86_400}
DAY = timedelta(days=1)

_RETRY_STATUS = {500, 502, 503, 504}


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _le_pattern(threshold_ms: float) -> str:
    """A PromQL regex literal matching the `le` label of this bucket bound,
    however the producer formats it ("500", "500.0")."""
    return re.escape(f"{threshold_ms:g}").replace("\\", "\\\\") + "(\\\\.0*)?"


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
        self.promql = {**DEFAULT_PROMQL, **{key: value for key, value in promql.items() if value}}
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

    def _call(self, path: str, params: dict, promql: str) -> dict:
        url = f"{self.base_url}{path}"
        last_error = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                # POST keeps long queries out of the URL; Prometheus accepts both.
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
            return body.get("data") or {}
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

    def _template(self, key: str, metadata: dict | None) -> Template:
        overrides = (metadata or {}).get("promql") or {}
        text = overrides.get(key) if isinstance(overrides, dict) else None
        return Template(text or self.promql[key])

    def _expression(self, key: str, metadata: dict | None, **values) -> str:
        return self._template(key, metadata).safe_substitute(**values)

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
            return SliHistory(service_id=service_id, start=start, end=end, days=(), latency_bucket_bounds_ms=bounds)

        totals = self._daily_values(self._expression("total", metadata, service=service_id, window="1d"),
                                    start=first, end=last)
        errors = self._daily_values(self._expression("errors", metadata, service=service_id, window="1d"),
                                    start=first, end=last)
        latency: dict[float, dict[date, float]] = {}
        for percentile in LATENCY_PERCENTILES:
            expression = self._expression(
                "latency", metadata, service=service_id, window="1d", quantile=f"{percentile / 100:g}"
            )
            latency[percentile] = self._daily_values(expression, start=first, end=last, combine=max)

        days = []
        for day in sorted(totals):
            total = totals[day]
            percentiles = {p: values[day] for p, values in latency.items() if day in values}
            days.append(DailySli(day=day, good=total - errors.get(day, 0.0), total=total, latency_ms=percentiles))
        return SliHistory(
            service_id=service_id, start=start, end=end, days=tuple(days), latency_bucket_bounds_ms=bounds
        )

    def latency_bucket_bounds_ms(self, service_id: str, *, window: str, metadata: dict | None = None) -> tuple:
        """Finite `le` bounds (ms, ascending) of the service's latency histogram
        seen in the trailing `window`; empty when there is none."""
        expression = self._expression("latency_buckets", metadata, service=service_id, window=window)
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
                bounds.add(bound)
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
                    values[sli_type] = latency
        return WindowSli(service_id=service_id, window=window, values=values, sample_count=round(total))

    def service_graph_edges(self, *, lookback: str) -> list[ObservedEdge]:
        """Edges of the OTel service graph with requests in the trailing `lookback`."""
        edges = []
        for item in self.query(self._expression("service_graph", None, window=lookback)):
            labels = item.get("metric", {})
            value = _number(item.get("value", [0, "nan"])[1])
            if not labels.get("client") or not labels.get("server") or value is None:
                continue
            edges.append(
                ObservedEdge(
                    client=labels["client"],
                    server=labels["server"],
                    connection_type=labels.get("connection_type", ""),
                    request_count=value,
                )
            )
        return sorted(edges, key=lambda edge: (edge.client, edge.server, edge.connection_type))

    # --- SLO scoring ---------------------------------------------------------

    def _event_expressions(self, service_id: str, threshold_ms: float | None,
                           metadata: dict | None) -> tuple[Template, Template, bool]:
        """(total, bad-or-good, is_good) templates with `$window` left open:
        availability counts errors, latency counts requests under the threshold."""
        values = {"service": service_id}
        if threshold_ms is None:
            total = Template(self._template("total", metadata).safe_substitute(**values))
            errors = Template(self._template("errors", metadata).safe_substitute(**values))
            return total, errors, False
        values["le"] = _le_pattern(threshold_ms)
        total = Template(self._template("latency_total", metadata).safe_substitute(**values))
        good = Template(self._template("latency_good", metadata).safe_substitute(**values))
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
