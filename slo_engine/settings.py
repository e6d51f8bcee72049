"""Settings for SLO Engine, read from the environment (DESIGN.md section 11).

Every value has a development default so that `make run` works on a bare
machine: SQLite instead of PostgreSQL, eager Celery and a local-memory cache
instead of Redis. Bad values fail loudly with ImproperlyConfigured.
"""

import json
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

DEFAULT_SECRET_KEY = "insecure-development-key-change-me"


def envbool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def envint(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    return value


def envfloat(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from exc


def envrate(name: str, default: str) -> str:
    """A rate limit such as `10/min` (per s, sec, m, min, h, hour, d, day)."""
    value = (os.environ.get(name) or default).strip()
    count, _, period = value.partition("/")
    if not (count.isdigit() and int(count) > 0 and period.lower() in _RATE_PERIODS):
        raise ImproperlyConfigured(f"{name} must look like 10/min (a positive count per s, min, hour or day), "
                                   f"got {value!r}")
    return value


_RATE_PERIODS = {"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"}


def envchoice(name: str, default: str, choices: set[str]) -> str:
    value = os.environ.get(name) or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def envlist(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = envbool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY") or DEFAULT_SECRET_KEY
if not DEBUG and SECRET_KEY == DEFAULT_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set in the environment when DEBUG is off; "
        "refusing to run production with the default key."
    )
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_celery_results",
    "django_prometheus",
    "slo_engine",
    "graph",
    "telemetry",
    "recommendations",
    "slos",
    "web",
    "demo",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "slo_engine.middleware.CorrelationIdMiddleware",
    "slo_engine.middleware.RequestLimitsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "slo_engine.urls"
WSGI_APPLICATION = "slo_engine.wsgi.application"
ASGI_APPLICATION = "slo_engine.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=envint("DB_CONN_MAX_AGE", 60, minimum=0),
        # Checks a persistent connection before reuse, so a PostgreSQL restart
        # costs one reconnect instead of an error on the next request.
        conn_health_checks=True,
    )
}
DATABASES["default"]["ENGINE"] = DATABASES["default"]["ENGINE"].replace(
    "django.db.backends.", "django_prometheus.db.backends."
)
if "sqlite" in DATABASES["default"]["ENGINE"]:
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = envint("DB_CONNECT_TIMEOUT", 5)
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME") or None}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery ------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "slo"),
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                # A Redis outage degrades the API (no cache, no throttling)
                # instead of failing it; django-redis logs each ignored error.
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    DJANGO_REDIS_LOGGER = "slo_engine.cache"
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = True

CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_CACHE_BACKEND = "django-cache"
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", 600, minimum=1)
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", 660, minimum=1)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}

# --- Auth, i18n, static ----------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/admin/login/"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 20 * 1024 * 1024, minimum=1024)
# Query parameters (and form fields) Django parses per request; more is a 400.
DATA_UPLOAD_MAX_NUMBER_FIELDS = envint("DATA_UPLOAD_MAX_NUMBER_FIELDS", 1000, minimum=10)
# Request line and header limits answered by RequestLimitsMiddleware with a
# problem (414, 431), below gunicorn's own (gunicorn.conf.py), so a client
# gets problem+json with a correlation id rather than gunicorn's HTML page.
MAX_URL_BYTES = envint("MAX_URL_BYTES", 8192, minimum=1024)
MAX_HEADER_BYTES = envint("MAX_HEADER_BYTES", 8190, minimum=1024)
MAX_HEADER_COUNT = envint("MAX_HEADER_COUNT", 100, minimum=10)

if not DEBUG:
    SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True

# --- REST framework --------------------------------------------------------
# Seconds an API key's stored state is cached for authentication (0: never).
API_KEY_CACHE_SECONDS = envint("API_KEY_CACHE_SECONDS", 30, minimum=0)
RATE_LIMIT_INGEST = envrate("RATE_LIMIT_INGEST", "10/min")
RATE_LIMIT_QUERY = envrate("RATE_LIMIT_QUERY", "600/min")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "slo_engine.api.authentication.ApiKeyAuthentication",
        "slo_engine.api.authentication.StaffSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["slo_engine.api.permissions.HasScopedAccess"],
    "DEFAULT_FILTER_BACKENDS": ["slo_engine.api.filters.StrictFilterBackend"],
    # JSON only: any other body is a 415 (and the schema lists only JSON).
    "DEFAULT_PARSER_CLASSES": ["slo_engine.api.parsers.JSONParser"],
    # Every API view is throttled, even one that forgets the base class.
    "DEFAULT_THROTTLE_CLASSES": ["slo_engine.api.throttles.QueryRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "slo_engine.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "slo_engine.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "slo_engine.api.errors.problem_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"ingest": RATE_LIMIT_INGEST, "query": RATE_LIMIT_QUERY},
    "DEFAULT_RENDERER_CLASSES": [
        "slo_engine.api.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "SLO Engine API",
    "DESCRIPTION": "Service dependency graph and SLO recommendations.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc assets come from drf-spectacular-sidecar through
    # whitenoise, so the docs work with no internet (air-gapped clusters).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `criticality` field with different choices.
    "ENUM_NAME_OVERRIDES": {
        "ServiceCriticalityEnum": "graph.models.ServiceCriticality",
        "DependencyCriticalityEnum": "graph.models.DependencyCriticality",
        "DiscoverySourceEnum": "graph.models.DiscoverySource",
        "CommunicationModeEnum": "graph.models.CommunicationMode",
        # Recommendations and SLOs of record share the availability|latency choice.
        "SloSliTypeEnum": "recommendations.models.RecommendationSliType",
    },
}

# --- Domain settings -------------------------------------------------------
TELEMETRY_SOURCE = envchoice("TELEMETRY_SOURCE", "demo", {"demo", "prometheus"})
PROMETHEUS_URL = os.environ.get("PROMETHEUS_URL", "http://127.0.0.1:9090")
# The demo topology (ingest format): ingested by seed_demo and read by the demo
# telemetry source, so both always describe the same graph.
DEMO_TOPOLOGY_FILE = Path(
    os.environ.get("DEMO_TOPOLOGY_FILE") or BASE_DIR / "demo" / "data" / "otel-demo-topology.json"
)
PROMETHEUS_TIMEOUT_SECONDS = envfloat("PROMETHEUS_TIMEOUT_SECONDS", 10.0)
PROMETHEUS_RETRIES = envint("PROMETHEUS_RETRIES", 3, minimum=0)
# PromQL overrides (empty: the span-metrics naming detected in Prometheus,
# Collector or Tempo, see telemetry/sources/prometheus.py); `$service`,
# `$window`, `$quantile` are filled in.
PROMQL_TOTAL = os.environ.get("PROMQL_TOTAL", "")
PROMQL_ERRORS = os.environ.get("PROMQL_ERRORS", "")
PROMQL_LATENCY = os.environ.get("PROMQL_LATENCY", "")
PROMQL_LATENCY_BUCKETS = os.environ.get("PROMQL_LATENCY_BUCKETS", "")
PROMQL_SERVICE_GRAPH = os.environ.get("PROMQL_SERVICE_GRAPH", "")
PROMQL_SERVICE_GRAPH_FAILED = os.environ.get("PROMQL_SERVICE_GRAPH_FAILED", "")
# OTel discovery reads the service graph over this trailing range; confidence
# is 1 - exp(-requests / OTEL_CONFIDENCE_REQUESTS).
OTEL_GRAPH_LOOKBACK = os.environ.get("OTEL_GRAPH_LOOKBACK", "1h")
OTEL_CONFIDENCE_REQUESTS = envfloat("OTEL_CONFIDENCE_REQUESTS", 100.0)
STALE_EDGE_THRESHOLD_HOURS = envint("STALE_EDGE_THRESHOLD_HOURS", 168, minimum=1)
# Service-mesh discovery from Istio or Linkerd metrics in PROMETHEUS_URL
# (same schedule and lookback as OTel discovery).
MESH_DISCOVERY = envchoice("MESH_DISCOVERY", "off", {"off", "istio", "linkerd"})
OTEL_GRAPH_INGEST_INTERVAL_MINUTES = envint("OTEL_GRAPH_INGEST_INTERVAL_MINUTES", 15, minimum=1)
INGEST_MAX_NODES = envint("INGEST_MAX_NODES", 10_000, minimum=1)
INGEST_MAX_EDGES = envint("INGEST_MAX_EDGES", 50_000, minimum=1)
# An ingest `timestamp` older than this is a 422 (a replayed or mistyped
# payload would otherwise mark fresh edges stale).
INGEST_MAX_AGE_DAYS = envint("INGEST_MAX_AGE_DAYS", 90, minimum=1)
# One stored JSON document (a service's metadata, an edge's retry_config), as UTF-8 JSON.
METADATA_MAX_BYTES = envint("METADATA_MAX_BYTES", 64 * 1024, minimum=1024)
CYCLE_MAX_LENGTH = envint("CYCLE_MAX_LENGTH", 10, minimum=2)
CYCLE_MAX_PER_SCC = envint("CYCLE_MAX_PER_SCC", 100, minimum=1)
RECOMMENDATION_TTL_HOURS = envint("RECOMMENDATION_TTL_HOURS", 24, minimum=1)
# Superseded and expired recommendations are deleted this long after they
# stopped being active (the hourly expiry task prunes them).
RECOMMENDATION_RETENTION_DAYS = envint("RECOMMENDATION_RETENTION_DAYS", 30, minimum=1)
SLI_AGGREGATE_RETENTION_DAYS = envint("SLI_AGGREGATE_RETENTION_DAYS", 14, minimum=1)
SLO_WINDOW_DAYS = envint("SLO_WINDOW_DAYS", 28, minimum=1)
# SLOs of record (DESIGN.md section 13): how often every active SLO is scored.
SLO_STATUS_INTERVAL_MINUTES = envint("SLO_STATUS_INTERVAL_MINUTES", 5, minimum=1)


def env_auto_approve(name: str) -> dict | None:
    """`SLO_AUTO_APPROVE`: off when unset, empty or false; else a JSON object
    `{"criticality": [...], "tier": "balanced", "min_completeness": 0.9}`
    (every key optional). Anything else fails loudly."""
    raw = (os.environ.get(name) or "").strip()
    if raw.lower() in {"", "0", "false", "no", "off"}:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a JSON object or 'off', got {raw!r}") from exc
    if not isinstance(value, dict):
        raise ImproperlyConfigured(f"{name} must be a JSON object, got {raw!r}")
    unknown = set(value) - {"criticality", "tier", "min_completeness"}
    if unknown:
        raise ImproperlyConfigured(f"{name} has unknown keys {sorted(unknown)}; "
                                   "allowed: criticality, tier, min_completeness")
    criticality = value.get("criticality", ["critical", "high", "medium", "low"])
    if (not isinstance(criticality, list) or not criticality
            or any(c not in {"critical", "high", "medium", "low"} for c in criticality)):
        raise ImproperlyConfigured(f"{name}.criticality must be a non-empty list of critical, high, medium, low")
    tier = value.get("tier", "balanced")
    if tier not in {"conservative", "balanced", "aggressive"}:
        raise ImproperlyConfigured(f"{name}.tier must be conservative, balanced or aggressive, got {tier!r}")
    completeness = value.get("min_completeness", 0.0)
    if isinstance(completeness, bool) or not isinstance(completeness, int | float) or not 0 <= completeness <= 1:
        raise ImproperlyConfigured(f"{name}.min_completeness must be a number in [0, 1], got {completeness!r}")
    return {"criticality": criticality, "tier": tier, "min_completeness": float(completeness)}


SLO_AUTO_APPROVE = env_auto_approve("SLO_AUTO_APPROVE")

# --- Logging ---------------------------------------------------------------
LOG_LEVEL = envchoice("LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})
LOG_FORMAT = envchoice("LOG_FORMAT", "console", {"json", "console"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"correlation": {"()": "slo_engine.logging.CorrelationIdFilter"}},
    "formatters": {
        "json": {"()": "slo_engine.logging.JsonFormatter"},
        "console": {"format": "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"},
    },
    "handlers": {
        "default": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["correlation"],
        }
    },
    "root": {"handlers": ["default"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"level": "ERROR", "propagate": True},
    },
}
