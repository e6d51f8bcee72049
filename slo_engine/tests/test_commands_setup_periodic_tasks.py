"""setup_periodic_tasks creates the beat schedules of DESIGN.md section 10, idempotently."""

from io import StringIO

import pytest
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

pytestmark = pytest.mark.django_db


def _snapshot():
    return sorted(
        PeriodicTask.objects.values_list("name", "task", "enabled", "interval_id", "crontab_id", "kwargs")
    ), IntervalSchedule.objects.count(), CrontabSchedule.objects.count()


def test_creates_every_schedule(settings):
    settings.OTEL_GRAPH_INGEST_INTERVAL_MINUTES = 15
    settings.SLO_STATUS_INTERVAL_MINUTES = 5
    call_command("setup_periodic_tasks", stdout=StringIO())

    tasks = {t.task: t for t in PeriodicTask.objects.select_related("interval", "crontab")}
    every = {name: (t.interval.every, t.interval.period) for name, t in tasks.items() if t.interval}
    assert every == {
        "telemetry.tasks.discover_otel_graph": (15, "minutes"),
        "telemetry.tasks.discover_mesh_graph": (15, "minutes"),
        "graph.tasks.mark_stale_edges": (60, "minutes"),
        "telemetry.tasks.compute_sli_aggregates": (60, "minutes"),
        "recommendations.tasks.expire_recommendations": (60, "minutes"),
        "slos.tasks.refresh_slo_status": (5, "minutes"),
    }
    daily = {name: (t.crontab.minute, t.crontab.hour, t.crontab.day_of_week) for name, t in tasks.items() if t.crontab}
    assert daily == {
        "graph.tasks.detect_cycles": ("30", "2", "*"),
        "recommendations.tasks.generate_recommendations_batch": ("0", "3", "*"),
    }
    assert all(t.enabled for t in tasks.values())


def test_running_twice_changes_nothing():
    call_command("setup_periodic_tasks", stdout=StringIO())
    first = _snapshot()
    out = StringIO()
    call_command("setup_periodic_tasks", stdout=out)
    assert _snapshot() == first
    assert out.getvalue().count("unchanged") == 8


def test_changed_interval_updates_the_task_and_keeps_an_operator_disable(settings):
    call_command("setup_periodic_tasks", stdout=StringIO())
    PeriodicTask.objects.filter(name="otel-graph-discovery").update(enabled=False)
    settings.OTEL_GRAPH_INGEST_INTERVAL_MINUTES = 5
    call_command("setup_periodic_tasks", stdout=StringIO())
    task = PeriodicTask.objects.get(name="otel-graph-discovery")
    assert task.interval.every == 5
    assert task.enabled is False
    assert PeriodicTask.objects.count() == 8
