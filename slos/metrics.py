"""State gauges of the SLOs of record, refreshed before each /metrics scrape:
`slo_engine_slos{health}` (active SLOs by health band; not scored yet counts
as unknown) and `slo_engine_slos_review_due`. Labels carry bands, never
service ids, so cardinality stays bounded."""

from django.db.models import Count
from prometheus_client import Gauge

from slo_engine.metrics import on_scrape
from slos.models import ServiceLevelObjective, SloHealth, SloState

SLOS_BY_HEALTH = Gauge("slo_engine_slos", "Active SLOs of record by health band", ["health"],
                       multiprocess_mode="mostrecent")
SLOS_REVIEW_DUE = Gauge("slo_engine_slos_review_due", "Active SLOs of record flagged for review",
                        multiprocess_mode="mostrecent")


@on_scrape
def refresh_slo_gauges() -> None:
    """Two aggregate queries over the active SLOs (index slo_state_service_idx)."""
    active = ServiceLevelObjective.objects.filter(state=SloState.ACTIVE).order_by()
    counts = dict.fromkeys(SloHealth.values, 0)
    for health, n in active.values_list("status__health").annotate(n=Count("id")).values_list("status__health", "n"):
        counts[health or SloHealth.UNKNOWN] += n
    for health, n in counts.items():
        SLOS_BY_HEALTH.labels(health=health).set(n)
    SLOS_REVIEW_DUE.set(active.filter(review_due=True).count())
