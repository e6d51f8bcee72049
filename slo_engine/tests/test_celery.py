"""Celery wiring: the broker is Redis, runs are recorded, failures counted."""

import pytest
from django.conf import settings
from django_celery_results.models import TaskResult

from slo_engine.celery import app
from slo_engine.metrics import TASK_FAILURES


def test_app_reads_django_settings():
    assert app.conf.broker_url == settings.CELERY_BROKER_URL
    assert app.conf.result_backend == "django-db"
    assert app.conf.task_acks_late is True
    for name in ("telemetry.tasks.discover_otel_graph", "telemetry.tasks.compute_sli_aggregates",
                 "graph.tasks.mark_stale_edges", "graph.tasks.detect_cycles"):
        app.loader.import_default_modules()
        assert name in app.tasks


def test_tasks_have_time_limits_and_retries():
    task = app.tasks["telemetry.tasks.discover_otel_graph"]
    assert task.soft_time_limit < task.time_limit
    assert task.max_retries == 5
    assert "TelemetryUnavailable" in {exc.__name__ for exc in task.autoretry_for}
    assert "OperationalError" in {exc.__name__ for exc in task.autoretry_for}


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_failed_task_is_recorded_and_counted(live_celery_worker):
    before = TASK_FAILURES.labels(task="graph.tasks.mark_stale_edges")._value.get()
    # By name, as beat sends it: the project wiring does not import the app.
    result = app.send_task("graph.tasks.mark_stale_edges", kwargs={"threshold_hours": 0})
    with pytest.raises(ValueError, match="threshold_hours must be positive"):
        result.get(timeout=30)
    record = TaskResult.objects.get(task_id=result.id)
    assert record.status == "FAILURE"
    assert "ValueError" in record.traceback
    assert record.task_kwargs and "threshold_hours" in record.task_kwargs
    assert TASK_FAILURES.labels(task="graph.tasks.mark_stale_edges")._value.get() == before + 1
