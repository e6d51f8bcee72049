"""`/metrics`: django-prometheus's exporter, with the state gauges refreshed
from cheap COUNT queries first so they are fresh at scrape time."""

import logging

from django.db import DatabaseError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django_prometheus.exports import ExportToDjangoView

from slo_engine.metrics import OPEN_ALERTS, STALE_EDGES

logger = logging.getLogger("slo_engine.metrics")


def refresh_state_gauges() -> None:
    """Set `slo_engine_open_alerts{status}` and `slo_engine_stale_edges` from
    the database. Two aggregate queries: alerts grouped by status (index
    alert_status_seen_idx) and a count of stale edge records."""
    from graph.models import AlertStatus, CircularDependencyAlert, ServiceDependency

    by_status = dict(
        CircularDependencyAlert.objects.order_by().values_list("status").annotate(n=Count("id")).values_list(
            "status", "n"
        )
    )
    for status in AlertStatus.values:
        OPEN_ALERTS.labels(status=status).set(by_status.get(status, 0))
    STALE_EDGES.set(ServiceDependency.objects.filter(is_stale=True).count())


def metrics(request: HttpRequest) -> HttpResponse:
    """The Prometheus text exposition of every metric of this process (or of
    every process sharing PROMETHEUS_MULTIPROC_DIR)."""
    try:
        refresh_state_gauges()
    except DatabaseError:
        # A scrape during a database outage still exports the process
        # metrics (they show the outage); the gauges keep their last value.
        logger.warning("Could not refresh state gauges for /metrics", exc_info=True)
    return ExportToDjangoView(request)
