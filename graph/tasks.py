"""Celery tasks of the graph: thin wrappers that call a service and return
its counts (recorded by django-celery-results). A lost database connection
is retried with exponential backoff."""

from celery import shared_task
from django.db import transaction

from slo_engine.tasks import retry_options

RETRY_OPTIONS = retry_options()


@shared_task(name="graph.tasks.mark_stale_edges", soft_time_limit=300, time_limit=360, **RETRY_OPTIONS)
def mark_stale_edges(threshold_hours: int | None = None) -> dict:
    """Mark edge records not observed within the threshold as stale; when any
    changed, cycle detection runs next (stale edges leave the graph)."""
    from graph.services.staleness import edges_mark_stale

    result = edges_mark_stale(threshold_hours=threshold_hours)
    if result.marked_stale:
        transaction.on_commit(detect_cycles.delay)
    return result.as_dict()


@shared_task(name="graph.tasks.detect_cycles", soft_time_limit=900, time_limit=960, **RETRY_OPTIONS)
def detect_cycles() -> dict:
    """Detect circular dependencies and bring the alerts in line with them."""
    from graph.services.cycles import cycle_alerts_sync

    return cycle_alerts_sync().as_dict()
