"""The correlation id of an HTTP request travels into the Celery tasks it
enqueues: in the task message's headers, restored around the task's execution
on a real worker (over the Redis broker), so the task's log lines carry it."""

import io
import json
import logging

import pytest
from django.http import JsonResponse
from django.urls import path

from slo_engine.celery import app
from slo_engine.logging import CorrelationIdFilter, JsonFormatter, correlation_id_var, get_correlation_id

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

probe_logger = logging.getLogger("slo_engine.tests.correlation_probe")


@app.task(name="slo_engine.tests.correlation_probe")
def correlation_probe(label: str) -> str:
    """Logs a line and returns the correlation id the task runs under."""
    probe_logger.info("probe %s ran", label)
    return get_correlation_id()


def _enqueue_probe(request):
    """A view that enqueues a task, like ingestion enqueues cycle detection."""
    return JsonResponse({"task_id": correlation_probe.delay("from-http").id})


# This module doubles as the URLconf of the HTTP test (pytest.mark.urls).
urlpatterns = [path("enqueue", _enqueue_probe)]


@pytest.fixture
def json_log() -> io.StringIO:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(CorrelationIdFilter())
    logging.getLogger().addHandler(handler)
    # A worker start may reconfigure the root level; the probe's INFO lines must pass.
    level = probe_logger.level
    probe_logger.setLevel(logging.INFO)
    yield stream
    probe_logger.setLevel(level)
    logging.getLogger().removeHandler(handler)


def test_a_task_runs_under_the_correlation_id_of_the_code_that_enqueued_it(live_celery_worker, json_log):
    token = correlation_id_var.set("http-req-42")
    try:
        result = correlation_probe.delay("first")
    finally:
        correlation_id_var.reset(token)
    assert result.get(timeout=20) == "http-req-42"

    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    probe = next(r for r in lines if r["logger"] == probe_logger.name)
    assert probe["message"] == "probe first ran"
    assert probe["correlation_id"] == "http-req-42"


def test_each_task_gets_its_own_id_and_nothing_leaks_between_tasks(live_celery_worker):
    token = correlation_id_var.set("req-a")
    try:
        first = correlation_probe.delay("a")
    finally:
        correlation_id_var.reset(token)
    # Enqueued outside any request (beat, a shell): the task gets a fresh id
    # rather than the placeholder or the previous task's id.
    second = correlation_probe.delay("b")
    assert first.get(timeout=20) == "req-a"
    orphan_id = second.get(timeout=20)
    assert orphan_id not in {"req-a", "-", ""}
    assert len(orphan_id) == 32


@pytest.mark.urls("slo_engine.tests.test_correlation")
def test_the_id_of_an_http_request_reaches_the_task_it_enqueued(live_celery_worker, client, json_log):
    response = client.get("/enqueue", HTTP_X_CORRELATION_ID="incoming-req-7")
    assert response["X-Correlation-ID"] == "incoming-req-7"
    from celery.result import AsyncResult

    assert AsyncResult(response.json()["task_id"], app=app).get(timeout=20) == "incoming-req-7"
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    task_lines = [r for r in lines if r["logger"] == probe_logger.name]
    assert [r["correlation_id"] for r in task_lines] == ["incoming-req-7"]
