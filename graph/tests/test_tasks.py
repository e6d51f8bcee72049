"""Graph tasks on a real Celery worker over Redis."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_results.models import TaskResult

from graph.models import AlertStatus, CircularDependencyAlert, ServiceDependency
from graph.tasks import detect_cycles, mark_stale_edges
from graph.tests.factories import ServiceDependencyFactory, ServiceFactory

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def _edge(source: str, target: str, **fields) -> ServiceDependency:
    return ServiceDependencyFactory(
        source=ServiceFactory(service_id=source), target=ServiceFactory(service_id=target), **fields
    )


def test_mark_stale_edges_task(live_celery_worker):
    old = timezone.now() - timedelta(hours=200)
    stale = _edge("a", "b", discovery_source="otel_service_graph", last_observed_at=old)
    manual = _edge("b", "c", last_observed_at=old)

    result = mark_stale_edges.delay()
    counts = result.get(timeout=30)

    assert counts["marked_stale"] == 1 and counts["stale_total"] == 1
    stale.refresh_from_db()
    manual.refresh_from_db()
    assert stale.is_stale and not manual.is_stale
    assert TaskResult.objects.get(task_id=result.id).status == "SUCCESS"


def test_detect_cycles_task_opens_alerts(live_celery_worker):
    _edge("a", "b")
    _edge("b", "c")
    _edge("c", "a")

    result = detect_cycles.delay()
    counts = result.get(timeout=30)

    assert counts["cycles"] == 1 and counts["created"] == 1
    alert = CircularDependencyAlert.objects.get()
    assert alert.cycle_path == ["a", "b", "c"] and alert.status == AlertStatus.OPEN
    assert TaskResult.objects.get(task_id=result.id).task_name == "graph.tasks.detect_cycles"
