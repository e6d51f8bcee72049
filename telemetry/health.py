"""The telemetry check of `/health/ready` (registered in apps.py): the
source in use and, for Prometheus, whether it is ready and which span-metric
naming it has."""

import requests
from django.conf import settings

from slo_engine.health import redact_url
from telemetry.sources.prometheus import NAMINGS, PrometheusSource

TELEMETRY_PROBE_TIMEOUT_SECONDS = 1.0


def check_telemetry() -> dict:
    if settings.TELEMETRY_SOURCE != "prometheus":
        return {"source": settings.TELEMETRY_SOURCE}
    url = settings.PROMETHEUS_URL.rstrip("/")
    # Prometheus's own readiness endpoint; a short timeout keeps the probe fast.
    response = requests.get(f"{url}/-/ready", timeout=TELEMETRY_PROBE_TIMEOUT_SECONDS)
    response.raise_for_status()
    return {"source": "prometheus", "url": redact_url(url), "span_metrics": _span_metrics_naming(url)}


def _span_metrics_naming(url: str) -> dict:
    """The span-metric naming the telemetry source detected (cached per
    process, so the probe asks Prometheus at most every few minutes)."""
    naming = PrometheusSource(base_url=url, timeout=TELEMETRY_PROBE_TIMEOUT_SECONDS, retries=0).detect_naming()
    if naming is None:
        return {"naming": None, "looked_for": list(dict.fromkeys(name for n in NAMINGS for name in n.metric_names))}
    return {"naming": naming.name, "calls": naming.calls_metric, "latency": f"{naming.latency_metric}_bucket",
            "service_label": naming.service_label}
