"""State gauges of the graph, refreshed before each /metrics scrape."""

from django.db.models import Count

from graph.models import AlertStatus, CircularDependencyAlert, ServiceDependency
from slo_engine.metrics import OPEN_ALERTS, STALE_EDGES, on_scrape


@on_scrape
def refresh_state_gauges() -> None:
    """Set `slo_engine_open_alerts{status}` and `slo_engine_stale_edges` from
    the database. Two aggregate queries: alerts grouped by status (index
    alert_status_seen_idx) and a count of stale edge records."""
    by_status = dict(
        CircularDependencyAlert.objects.order_by().values_list("status").annotate(n=Count("id")).values_list(
            "status", "n"
        )
    )
    for status in AlertStatus.values:
        OPEN_ALERTS.labels(status=status).set(by_status.get(status, 0))
    STALE_EDGES.set(ServiceDependency.objects.filter(is_stale=True).count())
