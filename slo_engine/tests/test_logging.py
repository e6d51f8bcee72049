"""Structured logs: with LOG_FORMAT=json every line is one JSON object, and the
lines a request produces (its access line, its errors) carry its correlation id."""

import io
import json
import logging

import httpx
import pytest
from django.urls import path
from rest_framework.views import APIView

from slo_engine.logging import CorrelationIdFilter, JsonFormatter, correlation_id_var


class _ExplodingApiView(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request):
        raise RuntimeError("boom in the API")


def _exploding_page(request):
    raise RuntimeError("boom in a page")


# This module doubles as the URLconf of the error tests (pytest.mark.urls).
urlpatterns = [
    path("api/v1/explode", _ExplodingApiView.as_view()),
    path("explode", _exploding_page),
]


@pytest.fixture
def json_log() -> io.StringIO:
    """Every record that reaches the root logger, formatted by the production
    formatter and filter, one JSON object a line."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(CorrelationIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


def records(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_formatter_writes_one_object_per_line_with_extras_and_exception():
    record = logging.LogRecord("slo_engine.test", logging.ERROR, __file__, 1, "failed %s", ("x",), None)
    try:
        raise ValueError("bad value")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    record.service_count = 3
    token = correlation_id_var.set("corr-123")
    try:
        CorrelationIdFilter().filter(record)
    finally:
        correlation_id_var.reset(token)
    line = JsonFormatter().format(record)
    assert "\n" not in line.split('"exception"')[0]
    payload = json.loads(line)
    assert payload["message"] == "failed x"
    assert payload["level"] == "ERROR"
    assert payload["logger"] == "slo_engine.test"
    assert payload["correlation_id"] == "corr-123"
    assert payload["service_count"] == 3
    assert "ValueError: bad value" in payload["exception"]
    assert payload["timestamp"].endswith("+00:00")


@pytest.mark.django_db
@pytest.mark.urls("slo_engine.tests.test_logging")
def test_an_api_error_is_logged_with_the_request_correlation_id(client, json_log):
    response = client.get("/api/v1/explode", HTTP_X_CORRELATION_ID="req-api-500")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["correlation_id"] == "req-api-500"
    assert response["X-Correlation-ID"] == "req-api-500"

    lines = records(json_log)
    error = next(r for r in lines if r["logger"] == "slo_engine.api")
    assert error["level"] == "ERROR"
    assert error["correlation_id"] == "req-api-500"
    assert "RuntimeError: boom in the API" in error["exception"]
    access = next(r for r in lines if r["logger"] == "slo_engine.request")
    assert access["correlation_id"] == "req-api-500"
    assert access["status"] == 500
    assert access["level"] == "ERROR"


@pytest.mark.django_db
@pytest.mark.urls("slo_engine.tests.test_logging")
def test_an_unhandled_page_error_is_logged_with_the_correlation_id(client, json_log):
    client.raise_request_exception = False
    response = client.get("/explode", HTTP_X_CORRELATION_ID="req-page-500")
    assert response.status_code == 500
    assert response["X-Correlation-ID"] == "req-page-500"
    lines = records(json_log)
    django_error = next(r for r in lines if r["logger"] == "django.request")
    assert django_error["correlation_id"] == "req-page-500"
    assert "RuntimeError: boom in a page" in django_error["exception"]


@pytest.mark.django_db
def test_an_unsafe_incoming_correlation_id_is_replaced(client, json_log):
    response = client.get("/api/v1/no-such-thing", HTTP_X_CORRELATION_ID="bad id\nwith newline")
    generated = response["X-Correlation-ID"]
    assert generated != "bad id\nwith newline"
    assert len(generated) == 32
    access = next(r for r in records(json_log) if r["logger"] == "slo_engine.request")
    assert access["correlation_id"] == generated
    assert access["status"] == 404


@pytest.mark.slow
def test_gunicorn_writes_json_lines_carrying_each_request_correlation_id(private_postgres, app_server):
    server = app_server(env={"DATABASE_URL": private_postgres.url, "REDIS_URL": "", "LOG_FORMAT": "json",
                             "LOG_LEVEL": "INFO"})
    with httpx.Client(base_url=server.url, timeout=10) as http:
        ok = http.get("/admin/login/", headers={"X-Correlation-ID": "e2e-login-1"})
        missing = http.get("/api/v1/no-such-endpoint", headers={"X-Correlation-ID": "e2e-missing-2"})
        unauthenticated = http.get("/api/v1/services/", headers={"X-Correlation-ID": "e2e-anon-3"})
        generated = http.get("/admin/login/").headers["X-Correlation-ID"]
    assert ok.status_code == 200 and ok.headers["X-Correlation-ID"] == "e2e-login-1"
    assert missing.status_code == 404
    assert unauthenticated.status_code in (401, 403)

    server.stop()  # flush and close the log
    access = {r["correlation_id"]: r for r in server.json_logs() if r.get("logger") == "slo_engine.request"}
    assert access["e2e-login-1"]["status"] == 200
    assert access["e2e-login-1"]["path"] == "/admin/login/"
    assert access["e2e-login-1"]["level"] == "INFO"
    assert access["e2e-missing-2"]["status"] == 404
    assert access["e2e-missing-2"]["level"] == "WARNING"
    assert access["e2e-anon-3"]["status"] in (401, 403)
    assert access[generated]["path"] == "/admin/login/"
    for record in access.values():
        assert {"timestamp", "level", "logger", "message", "correlation_id", "duration_ms", "method"} <= set(record)
