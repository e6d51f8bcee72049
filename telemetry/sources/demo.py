"""The deterministic demo telemetry source (`TELEMETRY_SOURCE=demo`).

Synthetic daily history for the 27 services of the OpenTelemetry demo
("Astronomy Shop") and, with a generic steady profile, for any other service
id. Every number is a pure function of (service_id, day): a counter-based
hash seeds it, so any date range, any process and any run agree, and
`window_sli()` is computed from the same days as `daily_history()`.

The scenarios an SRE meets (DEMO_SCENARIOS says which service has which):

* steady: high availability, modest noise (most services);
* noisy: bursty errors, plus one day of bad data (good > total, rejected);
* cold_start: data for the last 10 (complete) days only (the recommender uses 90 days);
* seven_days: data for the last 7 days only (just enough);
* uninstrumented: no data at all (the API answers 422);
* flaky_external: an external dependency at about 99.7%;
* greedy_dependency: a reliable service whose failures are mostly its
  external dependency's (flagged `over_half_of_budget`).

Failures propagate along the hard sync edges of the topology: a share of a
caller's requests needs each hard dependency (EDGE_CALL_SHARE), and that
share fails when the dependency does, as this caller experiences it (a
caller hitting cheaper endpoints sees fewer failures: EDGE_FAILURE_FACTOR).
So callers' availability is consistent with their dependencies', and the
service-graph edge counts (`edge_traffic`) are the calls and failures behind
it. Every service keeps unbounded history (at least 120 days for the
backtest), except the short-history scenarios.
"""

import functools
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from telemetry.sources.base import (
    DailySli,
    EdgeTraffic,
    EventCounts,
    ObservedEdge,
    SliHistory,
    SloEvents,
    WindowSli,
    duration_seconds,
)

DemoEdge = tuple[str, str, str, str, str]


@functools.cache
def demo_topology_edges() -> tuple[DemoEdge, ...]:
    """(source, target, communication_mode, criticality, protocol) of every
    edge of the demo topology, read once from `settings.DEMO_TOPOLOGY_FILE`
    (demo/data/otel-demo-topology.json, the file `seed_demo` ingests)."""
    from django.conf import settings

    document = json.loads(Path(settings.DEMO_TOPOLOGY_FILE).read_text())
    return tuple(
        (edge["source"], edge["target"], edge["attributes"]["communication_mode"],
         edge["attributes"]["criticality"], edge["attributes"]["protocol"])
        for edge in document["edges"]
    )


def demo_services() -> tuple[str, ...]:
    """Every service id of the demo topology, sorted."""
    edges = demo_topology_edges()
    return tuple(sorted({e[0] for e in edges} | {e[1] for e in edges}))


STEADY = "steady"
NOISY = "noisy"
COLD_START = "cold_start"
SEVEN_DAYS = "seven_days"
UNINSTRUMENTED = "uninstrumented"
FLAKY_EXTERNAL = "flaky_external"
GREEDY_DEPENDENCY = "greedy_dependency"

# Which demo service plays which scenario; every other service is steady.
DEMO_SCENARIOS: dict[str, str] = {
    "recommendation": NOISY,
    "chatbot": COLD_START,
    "mcp": SEVEN_DAYS,
    "astronomy-db": UNINSTRUMENTED,
    "quote": FLAKY_EXTERNAL,
    "shipping": GREEDY_DEPENDENCY,
}
# The external dependency whose failures a greedy_dependency service passes on.
GREEDY_DEPENDENCY_OF: dict[str, str] = {"shipping": "quote"}
# Days of data of the short-history scenarios (ending with the last complete day).
SHORT_HISTORY_DAYS: dict[str, int] = {COLD_START: 10, SEVEN_DAYS: 7}

# Services in an ongoing incident, for the SLO pages: over the hours before
# the moment asked about, this share of their requests fails, so their SLOs
# burn fast now. Only `slo_events` shows it; the complete days that
# recommendations read are untouched.
DEMO_ONGOING_INCIDENTS: dict[str, tuple[float, int]] = {"frontend": (0.15, 2)}  # (error share, hours)

# Upper bounds (ms) of the OpenTelemetry SDK's default explicit histogram buckets.
LATENCY_BUCKET_BOUNDS_MS: tuple[float, ...] = (
    0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000,
)
PERCENTILES: tuple[float, ...] = (50, 95, 99, 99.9)
_PERCENTILE_FACTORS = {50: 1.0, 95: 2.6, 99: 4.2, 99.9: 7.5}
_WINDOW_DAYS = {"1h": 1, "1d": 1, "7d": 7, "28d": 28, "90d": 90}
_MASK64 = (1 << 64) - 1


@functools.cache
def hard_sync_dependencies() -> dict[str, tuple[str, ...]]:
    """client -> the servers it depends on hard and synchronously, in the
    demo topology (the edges along which failures propagate)."""
    dependencies: dict[str, tuple[str, ...]] = {}
    for source, target, mode, criticality, _protocol in demo_topology_edges():
        if mode == "sync" and criticality == "hard":
            dependencies[source] = (*dependencies.get(source, ()), target)
    return dependencies


def edge_call_share(client: str, server: str) -> float:
    """The share of `client`'s requests that call `server` (0.3-0.9; all of
    them for a greedy_dependency service's external dependency)."""
    if GREEDY_DEPENDENCY_OF.get(client) == server:
        return 1.0
    return 0.3 + 0.6 * float(_uniforms(_seed(f"{client}->{server}"), np.arange(1), stream=21)[0])


def edge_failure_factor(client: str, server: str) -> float:
    """How much of `server`'s failure rate `client`'s calls meet (0.4-1.0:
    callers use different endpoints; 1 for a greedy_dependency service)."""
    if GREEDY_DEPENDENCY_OF.get(client) == server:
        return 1.0
    return 0.4 + 0.6 * float(_uniforms(_seed(f"{client}->{server}"), np.arange(1), stream=23)[0])


def scenario_of(service_id: str) -> str:
    """The demo scenario of a service (steady for ids outside the demo)."""
    return DEMO_SCENARIOS.get(service_id, STEADY)


def _seed(service_id: str) -> int:
    """A stable 64-bit seed (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(service_id.encode()).digest()[:8], "big")


def _uniforms(seed: int, ordinals: np.ndarray, stream: int) -> np.ndarray:
    """Uniforms in (0, 1), one per day ordinal: splitmix64 of (seed, stream, day)."""
    with np.errstate(over="ignore"):
        x = np.uint64(seed) ^ np.uint64((stream * 0x9E3779B97F4A7C15) & _MASK64)
        x = x + ordinals.astype(np.uint64) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return ((x >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def _normals(seed: int, ordinals: np.ndarray, stream: int) -> np.ndarray:
    u1, u2 = _uniforms(seed, ordinals, stream), _uniforms(seed, ordinals, stream + 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


@dataclass(frozen=True)
class _Profile:
    traffic: float  # requests per day
    error_rate: float  # mean daily error rate
    error_sigma: float  # lognormal spread of the daily error rate
    incident_chance: float  # chance a day has an incident
    p50_ms: float


def _profile(service_id: str) -> _Profile:
    u = _uniforms(_seed(service_id), np.arange(5), stream=99)
    scenario = scenario_of(service_id)
    traffic = 10 ** (5.0 + 1.5 * u[0])
    p50 = 10 ** (0.8 + 1.2 * u[1])
    if scenario == NOISY:
        return _Profile(traffic, 2.5e-3, 0.9, 0.08, p50 * 1.5)
    if scenario == FLAKY_EXTERNAL:
        return _Profile(traffic, 2.5e-3, 0.25, 0.0, p50 * 3)
    if scenario == GREEDY_DEPENDENCY:
        return _Profile(traffic, 1e-4, 0.25, 0.0, p50)
    return _Profile(traffic, 10 ** (-4.3 + 0.8 * u[2]), 0.3, 0.01, p50)


class DemoSource:
    """Deterministic synthetic telemetry (see the module docstring).
    `last_day` is the last day with data (default: yesterday in UTC, the last
    complete day, as with Prometheus)."""

    name = "demo"

    def __init__(self, *, last_day: date | None = None):
        self._last_day = last_day

    @property
    def today(self) -> date:
        """The last day with data."""
        return self._last_day or datetime.now(UTC).date() - timedelta(days=1)

    def _first_day(self, service_id: str) -> date | None:
        scenario = scenario_of(service_id)
        if scenario == UNINSTRUMENTED:
            return None
        if scenario in SHORT_HISTORY_DAYS:
            return self.today - timedelta(days=SHORT_HISTORY_DAYS[scenario] - 1)
        return date.min

    def _error_rates(self, service_id: str, ordinals: np.ndarray) -> np.ndarray:
        """Daily error rates: the service's own, plus its hard sync
        dependencies' as its calls to them meet them (a failed call fails
        the request that needed it)."""
        profile = _profile(service_id)
        seed = _seed(service_id)
        sigma = profile.error_sigma
        rate = profile.error_rate * np.exp(sigma * _normals(seed, ordinals, 1) - sigma * sigma / 2.0)
        incidents = _uniforms(seed, ordinals, 3) < profile.incident_chance
        rate = rate + incidents * profile.error_rate * 6.0 * _uniforms(seed, ordinals, 4)
        for dependency in hard_sync_dependencies().get(service_id, ()):
            rate = rate + edge_call_share(service_id, dependency) * self._edge_failure_rates(
                service_id, dependency, ordinals)
        return np.minimum(rate, 1.0)

    def _edge_failure_rates(self, client: str, server: str, ordinals: np.ndarray) -> np.ndarray:
        """Daily failure rate of `client`'s calls to `server`."""
        if scenario_of(server) == UNINSTRUMENTED:
            # No telemetry of its own, but it still fails now and then.
            rates = _profile(server).error_rate * np.exp(0.3 * _normals(_seed(server), ordinals, 1))
        else:
            rates = self._error_rates(server, ordinals)
        return np.minimum(rates * edge_failure_factor(client, server), 1.0)

    def daily_history(self, service_id: str, *, start: date, end: date, metadata: dict | None = None) -> SliHistory:
        """Daily good/total and latency percentiles for the days in [start, end]
        that have data (none after today, none before the scenario's first day)."""
        first = self._first_day(service_id)
        last = min(end, self.today)
        if first is None or last < start:
            return SliHistory(service_id=service_id, start=start, end=end, days=(),
                              latency_bucket_bounds_ms=LATENCY_BUCKET_BOUNDS_MS)
        begin = max(start, first)
        days = [begin + timedelta(days=i) for i in range((last - begin).days + 1)]
        ordinals = np.array([d.toordinal() for d in days], dtype=np.int64)
        seed = _seed(service_id)
        profile = _profile(service_id)
        total = self._daily_totals(service_id, ordinals)
        good = total - np.round(total * self._error_rates(service_id, ordinals))
        if scenario_of(service_id) == NOISY:
            # A counter reset every 23rd day reports more good than total
            # events (so every 30-day window holds at least one bad point).
            glitch = ordinals % 23 == 5
            good = np.where(glitch, total * 1.02, good)
        latency = profile.p50_ms * np.exp(0.12 * _normals(seed, ordinals, 9))
        slow = _uniforms(seed, ordinals, 11) < 0.05
        latency = latency * np.where(slow, 1.8, 1.0)
        rows = tuple(
            DailySli(day=day, good=float(g), total=float(t),
                     latency_ms={p: round(float(base) * _PERCENTILE_FACTORS[p], 3) for p in PERCENTILES})
            for day, g, t, base in zip(days, good, total, latency, strict=True)
        )
        return SliHistory(service_id=service_id, start=start, end=end, days=rows,
                          latency_bucket_bounds_ms=LATENCY_BUCKET_BOUNDS_MS)

    def window_sli(self, service_id: str, *, window: str, metadata: dict | None = None) -> WindowSli:
        """SLI values over the trailing window of complete days, from the same
        days as daily_history() (1h: the last day's rates, an hour's share of traffic)."""
        if window not in _WINDOW_DAYS:
            raise ValueError(f"unknown window {window!r}; choose from {sorted(_WINDOW_DAYS)}")
        today = self.today
        history = self.daily_history(service_id, start=today - timedelta(days=_WINDOW_DAYS[window] - 1), end=today)
        days = [d for d in history.days if 0 <= d.good <= d.total and d.total > 0]
        if not days:
            return WindowSli(service_id=service_id, window=window, values={}, sample_count=0)
        total = sum(d.total for d in days)
        good = sum(d.good for d in days)
        seconds = len(days) * 86400.0
        if window == "1h":
            total, good, seconds = total / 24.0, good / 24.0, 3600.0
        values = {"availability": good / total, "error_rate": 1.0 - good / total, "throughput": total / seconds}
        for percentile, name in ((50, "latency_p50"), (95, "latency_p95"), (99, "latency_p99"), (99.9, "latency_p999")):
            values[name] = sum(d.latency_ms[percentile] * d.total for d in days) / sum(d.total for d in days)
        return WindowSli(service_id=service_id, window=window, values=values, sample_count=int(round(total)))

    def service_graph_edges(self, *, lookback: str) -> list[ObservedEdge]:
        """The demo topology's edges with request counts for the lookback
        (`15m`, `1h`, `2d`, ...); messaging and database edges typed as the
        OTel service graph types them. Hard sync edges carry their failed
        calls at the last day's failure rate (the edge health of `edge_traffic`)."""
        seconds = duration_seconds(lookback)
        edges = []
        for source, target, mode, _criticality, protocol in demo_topology_edges():
            if mode == "async":
                connection_type = "messaging_system"
            elif protocol in ("postgresql", "redis"):
                connection_type = "database"
            else:
                connection_type = ""
            calls = _profile(source).traffic * seconds / 86400.0 * 0.3
            failed = 0.0
            if target in hard_sync_dependencies().get(source, ()):
                last_day = np.array([self.today.toordinal()], dtype=np.int64)
                failed = calls * float(self._edge_failure_rates(source, target, last_day)[0])
            edges.append(ObservedEdge(client=source, server=target, connection_type=connection_type,
                                      request_count=round(calls, 3), failed_count=round(failed, 3),
                                      window_seconds=float(seconds)))
        return edges

    def edge_traffic(self, *, start: date, end: date) -> list[EdgeTraffic]:
        """Calls and failed calls of each hard sync edge of the demo topology
        over the days [start, end] (none after the last day with data):
        the client's daily traffic times the edge's call share, failing at
        the edge's daily failure rate."""
        last = min(end, self.today)
        if last < start:
            return []
        ordinals = np.arange(start.toordinal(), last.toordinal() + 1, dtype=np.int64)
        edges = []
        for client, servers in sorted(hard_sync_dependencies().items()):
            first = self._first_day(client)
            if first is None:
                continue
            days = ordinals[ordinals >= first.toordinal()]
            if days.size == 0:
                continue
            calls = self._daily_totals(client, days)
            for server in servers:
                requests = np.round(calls * edge_call_share(client, server))
                failed = np.round(requests * self._edge_failure_rates(client, server, days))
                edges.append(EdgeTraffic(client=client, server=server, requests=float(requests.sum()),
                                         failed=float(failed.sum())))
        return edges

    def _daily_totals(self, service_id: str, ordinals: np.ndarray) -> np.ndarray:
        return np.round(_profile(service_id).traffic * np.exp(0.15 * _normals(_seed(service_id), ordinals, 5)))

    def _hourly_events(self, service_id: str, first_hour: int, last_hour: int,
                       threshold_ms: float | None) -> tuple[np.ndarray, np.ndarray]:
        """(good, total) per UTC hour for hours [first_hour, last_hour] counted
        since the epoch. Each day's traffic follows a diurnal curve that sums
        to the day's total; the error rate is the day's, with hourly noise.
        Latency: the share of requests under the threshold follows the day's
        p50 (a lognormal with the demo's p99/p50 spread)."""
        hours = np.arange(first_hour, last_hour + 1, dtype=np.int64)
        epoch = date(1970, 1, 1).toordinal()
        ordinals = hours // 24 + epoch
        first = self._first_day(service_id)
        if first is None:
            zeros = np.zeros(len(hours))
            return zeros, zeros
        seed = _seed(service_id)
        profile = _profile(service_id)
        days, index = np.unique(ordinals, return_inverse=True)
        day_total = np.round(profile.traffic * np.exp(0.15 * _normals(seed, days, 5)))
        diurnal = 1.0 + 0.3 * np.sin(2.0 * np.pi * (hours % 24) / 24.0)
        total = day_total[index] / 24.0 * diurnal
        sigma = 0.5
        noise = np.exp(sigma * _normals(seed, hours, 21) - sigma * sigma / 2.0)
        rate = np.minimum(self._error_rates(service_id, days)[index] * noise, 1.0)
        incident = DEMO_ONGOING_INCIDENTS.get(service_id)
        if incident is not None:
            share, hours_long = incident
            rate = np.where(hours > last_hour - hours_long, share, rate)
        total = np.where(ordinals >= first.toordinal(), total, 0.0)
        if threshold_ms is None:
            return total * (1.0 - rate), total
        p50 = profile.p50_ms * np.exp(0.12 * _normals(seed, days, 9))[index]
        # ln(p99/p50) = 2.326 s for a lognormal; the demo's p99 is 4.2 x p50.
        spread = math.log(_PERCENTILE_FACTORS[99]) / 2.326
        z = np.log(max(threshold_ms, 1e-9) / p50) / spread
        under = 0.5 * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))
        return total * under, total

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
        """Events for scoring an SLO, from an hourly model consistent with
        `daily_history` (see `_hourly_events`); partial hours count pro rata,
        and nothing after `at` exists."""
        longest = max([window_days * 86400] + [duration_seconds(w) for w in windows])
        end = at.timestamp()
        first_hour = math.floor((end - longest) / 3600) - 1
        last_hour = math.floor(end / 3600)
        good, total = self._hourly_events(service_id, first_hour, last_hour, threshold_ms)
        cumulative_good = np.concatenate(([0.0], np.cumsum(good)))
        cumulative_total = np.concatenate(([0.0], np.cumsum(total)))

        def events_until(times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Cumulative (good, total) from the first hour up to each time."""
            position = times / 3600.0 - first_hour
            whole = np.clip(np.floor(position).astype(np.int64), 0, len(good))
            inside = whole < len(good)
            index = np.minimum(whole, len(good) - 1)
            part = np.where(inside, position - whole, 0.0)
            return (cumulative_good[whole] + good[index] * part * inside,
                    cumulative_total[whole] + total[index] * part * inside)

        step_seconds = step.total_seconds()
        steps = max(1, round(window_days * 86400 / step_seconds))
        bounds = end - np.arange(steps, -1, -1) * step_seconds
        cum_good, cum_total = events_until(bounds)
        step_good, step_total = np.diff(cum_good), np.diff(cum_total)
        series = [(datetime.fromtimestamp(float(t), tz=UTC), EventCounts(good=float(g), total=float(n)))
                  for t, g, n in zip(bounds[1:], step_good, step_total, strict=True) if n > 0]
        starts = np.array([end - duration_seconds(w) for w in windows] + [end], dtype=float)
        window_good, window_total = events_until(starts)
        good_in = window_good[-1] - window_good[:-1]
        total_in = window_total[-1] - window_total[:-1]
        counts = {w: EventCounts(good=float(good_in[k]), total=float(total_in[k])) if total_in[k] > 0 else None
                  for k, w in enumerate(windows)}
        return SloEvents(series=tuple(series), windows=counts)
