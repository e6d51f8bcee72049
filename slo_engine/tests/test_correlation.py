"""The correlation id of an HTTP request travels into the Celery tasks it
enqueues: in the task message's headers, restored around the task's execution
on a real worker (over the Redis broker), so the task's log lines carry it."""

import io
import json
import logging

import pytest
from celery.contrib.testing.worker import start_worker

from slo_engine.celery import app
from slo_engine.logging import CorrelationIdFilter, JsonFormatter, correlation_id_var, get_correlation_id

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

probe_logger = logging.getLogger("slo_engine.tests.correlation_probe")


@app.task(name="slo_engine.tests.correlation_probe")
def correlation_probe(label: str) -> str:
    """Logs a line and returns the correlation id the task runs under."""
    probe_logger.info("probe %s ran", label)
    return get_correlation_id()


@pytest.fixture
def worker():
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as running:
        yield running


@pytest.fixture
def json_log() -> io.StringIO:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(CorrelationIdFilter())
    logging.getLogger().addHandler(handler)
    yield stream
    logging.getLogger().removeHandler(handler)


def test_a_task_runs_under_the_correlation_id_of_the_code_that_enqueued_it(worker, json_log):
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


def test_each_task_gets_its_own_id_and_nothing_leaks_between_tasks(worker):
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
