"""Health probes. `/health/live`: the process answers. `/health/ready`: the
database, the cache and the Celery broker are reachable; 503 naming the part
that is down otherwise.

Telemetry (Prometheus) is checked too but is not critical: when it is down the
API still serves graphs and stored recommendations and the tasks retry, and
taking this instance out of rotation would fix nothing. The probe then answers
200 with `"status": "degraded"` and names it under `degraded`, so it stays
honest without paging for the wrong thing.
"""

import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _timed(check, *, critical: bool = True) -> dict:
    started = time.perf_counter()
    try:
        details = check()
        result = {"status": "ok", **details}
    except Exception as exc:  # noqa: BLE001 - a probe reports any failure
        result = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    result["critical"] = critical
    return result


def _check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    db = settings.DATABASES["default"]
    return {"vendor": connection.vendor, "name": str(db.get("NAME")), "host": db.get("HOST") or "local"}


def _check_cache() -> dict:
    backend = settings.CACHES["default"]["BACKEND"]
    if "redis" in backend:
        from django_redis import get_redis_connection

        get_redis_connection("default").ping()
    else:
        cache.set("health:probe", "1", 5)
    return {"backend": backend.rsplit(".", 1)[-1]}


def _check_broker() -> dict:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"mode": "eager", "url": "memory://"}
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    finally:
        client.close()
    return {"mode": "redis", "url": _redact(settings.CELERY_BROKER_URL)}


TELEMETRY_PROBE_TIMEOUT_SECONDS = 1.0


def _check_telemetry() -> dict:
    if settings.TELEMETRY_SOURCE != "prometheus":
        return {"source": settings.TELEMETRY_SOURCE}
    import requests

    url = settings.PROMETHEUS_URL.rstrip("/")
    # Prometheus's own readiness endpoint; a short timeout keeps the probe fast.
    response = requests.get(f"{url}/-/ready", timeout=TELEMETRY_PROBE_TIMEOUT_SECONDS)
    response.raise_for_status()
    return {"source": "prometheus", "url": _redact(url), "span_metrics": _span_metrics_naming(url)}


def _span_metrics_naming(url: str) -> dict:
    """The span-metric naming the telemetry source detected (cached per
    process, so the probe asks Prometheus at most every few minutes)."""
    from telemetry.sources.prometheus import NAMINGS, PrometheusSource

    naming = PrometheusSource(base_url=url, timeout=TELEMETRY_PROBE_TIMEOUT_SECONDS, retries=0).detect_naming()
    if naming is None:
        return {"naming": None, "looked_for": list(dict.fromkeys(name for n in NAMINGS for name in n.metric_names))}
    return {"naming": naming.name, "calls": naming.calls_metric, "latency": f"{naming.latency_metric}_bucket",
            "service_label": naming.service_label}


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@never_cache
@require_GET
def live(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request):
    checks = {
        "database": _timed(_check_database),
        "cache": _timed(_check_cache),
        "broker": _timed(_check_broker),
        "telemetry": _timed(_check_telemetry, critical=False),
    }
    down = [name for name, result in checks.items() if result["status"] != "ok"]
    failing = [name for name in down if checks[name]["critical"]]
    degraded = [name for name in down if not checks[name]["critical"]]
    status = "unavailable" if failing else "degraded" if degraded else "ok"
    body = {"status": status, "checks": checks}
    if failing:
        body["failing"] = failing
    if degraded:
        body["degraded"] = degraded
    return JsonResponse(body, status=503 if failing else 200)
