"""The telemetry source protocol (DESIGN.md section 8).

A source answers four questions: the daily SLI history of a service, the SLI
values over a recent window (for aggregates), the service-graph edges seen
recently (for OTel discovery), and the requests and failures of each
client->server edge over a span of days (how a caller experiences its
dependencies, for the dependency ceiling). Implementations: `prometheus` and `demo`,
chosen by `TELEMETRY_SOURCE`.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol, runtime_checkable


class TelemetryError(Exception):
    """A telemetry read failed in a way a retry will not fix (bad query, bad data)."""


class TelemetryUnavailable(TelemetryError):
    """The backend could not be reached or timed out: transient, worth a retry."""


class TelemetryQueryError(TelemetryError):
    """The backend rejected a query (e.g. a PromQL syntax error)."""

    def __init__(self, message: str, *, query: str):
        super().__init__(f"{message} (query: {query})")
        self.query = query


@dataclass(frozen=True)
class DailySli:
    """One day of SLI data for one service. `good` may exceed `total` in bad
    data; consumers reject such points and count them."""

    day: date
    good: float
    total: float
    # Latency percentiles in milliseconds for that day, keyed by percentile
    # (50, 95, 99, 99.9); missing when the service has no latency data.
    latency_ms: dict[float, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SliHistory:
    """Daily history over [start, end] (inclusive). `days` holds only the days
    that have data, in order; gaps are days without data."""

    service_id: str
    start: date
    end: date
    days: tuple[DailySli, ...]
    # Upper bounds (ms) of the latency histogram buckets, when the source knows them.
    latency_bucket_bounds_ms: tuple[float, ...] = ()
    # When there is no data: the series (metric names and selector) the
    # source looked for, so the user can tell a naming mismatch from silence.
    looked_for: tuple[str, ...] = ()

    @property
    def lookback_days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class WindowSli:
    """SLI values of one service over one window, for SliAggregate rows.
    `values` maps SliAggregate sli_type -> value; `sample_count` is the number
    of requests behind them."""

    service_id: str
    window: str
    values: dict[str, float]
    sample_count: int


@dataclass(frozen=True)
class ObservedEdge:
    """One edge of the OTel service graph: `client` called `server`."""

    client: str
    server: str
    connection_type: str  # "" (plain RPC/HTTP), "messaging_system", "database", "virtual_node"
    request_count: float
    # Failed requests among them, and the span they were counted over
    # (seconds; 0 when unknown): edge health (request rate, failure ratio).
    failed_count: float = 0.0
    window_seconds: float = 0.0


@dataclass(frozen=True)
class EventCounts:
    """Good and total events over a span. For a latency SLO "good" is a
    request under the threshold."""

    good: float
    total: float


@dataclass(frozen=True)
class SloEvents:
    """What scoring an SLO needs (section 13): `series` covers the SLO window
    in steps, `(step end, events in that step)` oldest first; `windows` maps
    each trailing window asked for (`5m` ... `3d`) to its events, None when
    there was no traffic."""

    series: tuple[tuple[datetime, EventCounts], ...]
    windows: dict[str, EventCounts | None]


@dataclass(frozen=True)
class EdgeTraffic:
    """Requests `client` sent to `server` over a span of days, and how many
    of them failed (service-graph counters, any `failed` label summed away)."""

    client: str
    server: str
    requests: float
    failed: float

    @property
    def availability(self) -> float | None:
        """1 - failed / requests as the client experiences the server; None without requests."""
        if self.requests <= 0:
            return None
        return 1.0 - min(max(self.failed / self.requests, 0.0), 1.0)


@runtime_checkable
class TelemetrySource(Protocol):
    name: str

    def daily_history(self, service_id: str, *, start: date, end: date, metadata: dict | None = None) -> SliHistory:
        """Daily good/total events and latency percentiles over [start, end]."""
        ...

    def window_sli(self, service_id: str, *, window: str, metadata: dict | None = None) -> WindowSli:
        """SLI values over the trailing `window` (`1h`, `1d`, `7d`, `28d`, `90d`)."""
        ...

    def service_graph_edges(self, *, lookback: str) -> list[ObservedEdge]:
        """Edges with requests in the trailing `lookback` (e.g. `15m`, `1h`)."""
        ...

    def edge_traffic(self, *, start: date, end: date) -> list[EdgeTraffic]:
        """Requests and failures of every client->server edge over the days
        [start, end] (complete UTC days; edges without requests left out)."""
        ...

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
        """Events of the SLO window ending at `at` (in `step`s) and of the
        trailing `windows`; `threshold_ms` makes "good" mean under it."""
        ...


def duration_seconds(duration: str) -> float:
    """Seconds of a PromQL duration such as `15m`, `1h`, `1h30m`, `7d`."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800, "y": 31_536_000}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)", duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a duration: {duration!r}")
    return sum(float(n) * units[u] for n, u in parts)
