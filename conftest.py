"""The shared test fixtures of `testing/` (private PostgreSQL, Redis and
Prometheus servers, a Celery worker, headless Chromium, API clients), loaded
for every app's tests."""

pytest_plugins = [
    "testing.api",
    "testing.celery",
    "testing.concurrency",
    "testing.prometheus",
    "testing.browser",
    "testing.services",
    "testing.tracing",
    "testing.otlp",
]
