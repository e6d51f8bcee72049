"""Telemetry sources. `get_telemetry_source()` returns the one chosen by
`TELEMETRY_SOURCE` (`prometheus` or `demo`)."""

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
    TelemetrySource,
    TelemetryUnavailable,
    WindowSli,
)

__all__ = [
    "DailySli",
    "EdgeTraffic",
    "EventCounts",
    "ObservedEdge",
    "SliHistory",
    "SloEvents",
    "TelemetryError",
    "TelemetryQueryError",
    "TelemetrySource",
    "TelemetryUnavailable",
    "WindowSli",
    "get_telemetry_source",
]


def get_telemetry_source(name: str | None = None) -> TelemetrySource:
    name = name or settings.TELEMETRY_SOURCE
    if name == "prometheus":
        from telemetry.sources.prometheus import PrometheusSource

        return PrometheusSource(
            base_url=settings.PROMETHEUS_URL,
            timeout=settings.PROMETHEUS_TIMEOUT_SECONDS,
            retries=settings.PROMETHEUS_RETRIES,
        )
    if name == "demo":
        from telemetry.sources.demo import DemoSource

        return DemoSource()
    raise ValueError(f"unknown telemetry source {name!r}")
