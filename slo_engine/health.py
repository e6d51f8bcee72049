"""Health probes. `/health/live`: the process answers. `/health/ready`: the
database, the cache and the Celery broker are reachable; 503 naming the part
that is down otherwise.

Telemetry (Prometheus) is checked too (the check is telemetry's, registered
with `register_check`) but is not critical: when it is down the
API still serves graphs and stored recommendations and the tasks retry, and
taking this instance out of rotation would fix nothing. The probe then answers
200 with `"status": "degraded"` and names it under `degraded`, so it stays
honest without paging for the wrong thing.

The probes are public, so they say only which part failed and of what kind
(vendor, backend, mode, source): never a host, URL, database name or error
text. The detail goes to the log (logger `slo_engine.health`, WARNING) and
to logged-in staff users, who see every field.
"""

import logging
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger("slo_engine.health")

# The only details a public probe shows: what kind of part it is, never where.
PUBLIC_DETAILS = frozenset({"status", "critical", "latency_ms", "vendor", "backend", "mode", "source"})


def _timed(name: str, check, *, critical: bool = True) -> dict:
    started = time.perf_counter()
    try:
        details = check()
        result = {"status": "ok", **details}
    except Exception as exc:  # noqa: BLE001 - a probe reports any failure
        result = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
        logger.warning("readiness check %s failed: %s", name, result["error"],
                       extra={"check": name, "critical": critical})
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
    return {"mode": "redis", "url": redact_url(settings.CELERY_BROKER_URL)}


# Checks the apps add (`register_check`, from their AppConfig.ready): name ->
# (check, critical). A check returns its details or raises.
EXTRA_CHECKS: dict[str, tuple[Callable[[], dict], bool]] = {}
# Details beyond PUBLIC_DETAILS a registered check may show the public.
EXTRA_PUBLIC_DETAILS: dict[str, frozenset[str]] = {}


def register_check(name: str, check: Callable[[], dict], *, critical: bool = False,
                   public: Iterable[str] = ()) -> None:
    """Add `check` to /health/ready under `name`. The public sees only
    PUBLIC_DETAILS and the keys in `public` (never hosts or URLs)."""
    EXTRA_CHECKS[name] = (check, critical)
    EXTRA_PUBLIC_DETAILS[name] = frozenset(public)


def redact_url(url: str) -> str:
    """`url` without its user and password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@never_cache
@require_GET
def live(request):
    return JsonResponse({"status": "ok"})


def _public(name: str, result: dict) -> dict:
    shown = PUBLIC_DETAILS | EXTRA_PUBLIC_DETAILS.get(name, frozenset())
    return {key: value for key, value in result.items() if key in shown}


@never_cache
@require_GET
def ready(request):
    checks = {
        "database": _timed("database", _check_database),
        "cache": _timed("cache", _check_cache),
        "broker": _timed("broker", _check_broker),
        **{name: _timed(name, check, critical=critical) for name, (check, critical) in EXTRA_CHECKS.items()},
    }
    down = [name for name, result in checks.items() if result["status"] != "ok"]
    failing = [name for name in down if checks[name]["critical"]]
    degraded = [name for name in down if not checks[name]["critical"]]
    status = "unavailable" if failing else "degraded" if degraded else "ok"
    user = getattr(request, "user", None)
    if not (user is not None and user.is_authenticated and user.is_staff):
        checks = {name: _public(name, result) for name, result in checks.items()}
    body = {"status": status, "checks": checks}
    if failing:
        body["failing"] = failing
    if degraded:
        body["degraded"] = degraded
    return JsonResponse(body, status=503 if failing else 200)
