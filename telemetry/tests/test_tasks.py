"""Telemetry tasks on a real Celery worker over Redis, with a real Prometheus."""

import pytest
from celery.signals import task_retry
from django_celery_results.models import TaskResult

from graph.models import ServiceDependency
from graph.tests.factories import ServiceFactory
from slo_engine.metrics import TASK_FAILURES
from telemetry.models import SliAggregate
from telemetry.tasks import compute_sli_aggregates, discover_mesh_graph, discover_otel_graph

pytestmark = [pytest.mark.prometheus, pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def prometheus_settings(settings, telemetry_prometheus):
    settings.TELEMETRY_SOURCE = "prometheus"
    settings.PROMETHEUS_URL = telemetry_prometheus.url
    settings.PROMETHEUS_RETRIES = 0
    settings.PROMETHEUS_TIMEOUT_SECONDS = 2
    return settings


def test_discovery_task_runs_on_the_worker_and_is_recorded(prometheus_settings, live_celery_worker):
    result = discover_otel_graph.delay(lookback="1h")
    counts = result.get(timeout=30)

    assert counts["edges_upserted"] == 8 and "payments-db" in counts["databases"]
    assert ServiceDependency.objects.filter(discovery_source="otel_service_graph").count() == 8
    record = TaskResult.objects.get(task_id=result.id)
    assert record.status == "SUCCESS"
    assert record.task_name == "telemetry.tasks.discover_otel_graph"
    assert '"edges_upserted": 8' in record.result
    assert record.date_done is not None


def test_aggregates_task_runs_on_the_worker(prometheus_settings, live_celery_worker):
    ServiceFactory(service_id="payment")
    counts = compute_sli_aggregates.delay().get(timeout=60)
    assert counts["services"] == 1 and counts["rows_written"] == 35
    assert SliAggregate.objects.filter(service__service_id="payment").count() == 35


def test_stopped_prometheus_gives_a_retried_task_then_a_recorded_failure(
    settings, prometheus_factory, live_celery_worker, monkeypatch
):
    server = prometheus_factory()  # an empty Prometheus, stopped before the task runs
    server.stop()
    settings.TELEMETRY_SOURCE = "prometheus"
    settings.PROMETHEUS_URL = server.url
    settings.PROMETHEUS_RETRIES = 0
    monkeypatch.setattr(discover_otel_graph, "max_retries", 1)
    retries = []

    def on_retry(request=None, reason=None, **_kwargs):
        retries.append(str(reason))

    task_retry.connect(on_retry, weak=False)
    failures_before = TASK_FAILURES.labels(task="telemetry.tasks.discover_otel_graph")._value.get()
    try:
        result = discover_otel_graph.delay()
        with pytest.raises(Exception, match="unavailable"):
            result.get(timeout=30)
    finally:
        task_retry.disconnect(on_retry)

    assert len(retries) == 1 and "connection failed" in retries[0]
    record = TaskResult.objects.get(task_id=result.id)
    assert record.status == "FAILURE"
    assert "TelemetryUnavailable" in record.traceback
    assert f"Prometheus at {server.url} is unavailable" in record.result
    assert TASK_FAILURES.labels(task="telemetry.tasks.discover_otel_graph")._value.get() == failures_before + 1
    assert not ServiceDependency.objects.exists()


def test_mesh_discovery_task_does_nothing_while_off_on_the_worker(settings, live_celery_worker):
    settings.MESH_DISCOVERY = "off"
    result = discover_mesh_graph.delay()
    assert result.get(timeout=30)["edges_seen"] == 0
    assert TaskResult.objects.get(task_id=result.id).status == "SUCCESS"
