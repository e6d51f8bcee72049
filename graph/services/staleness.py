"""The staleness sweep (DESIGN.md section 8).

Edge records from discovery sources that have not been observed for
`STALE_EDGE_THRESHOLD_HOURS` become stale: traversal, cycles and
recommendations then ignore them. Manual records are what an operator wrote
down and never go stale. Observing a record again (any ingestion of that
source) clears the flag: `graph_ingest` writes `is_stale=False` on upsert.
"""

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from graph.models import DiscoverySource, ServiceDependency
from graph.selectors import graph_version_current
from graph.services.ingest import graph_version_bump
from slo_engine.metrics import STALE_EDGES

logger = logging.getLogger(__name__)


@dataclass
class StalenessResult:
    """`marked_stale`: records this sweep made stale; `stale_total`: stale
    records now; `cutoff`: records last observed before it are stale."""

    marked_stale: int
    stale_total: int
    cutoff: datetime
    graph_version: int

    def as_dict(self) -> dict:
        return {**asdict(self), "cutoff": self.cutoff.isoformat()}


def edges_mark_stale(*, now: datetime | None = None, threshold_hours: int | None = None) -> StalenessResult:
    """Mark non-manual edge records last observed more than `threshold_hours`
    (default STALE_EDGE_THRESHOLD_HOURS) before `now` as stale, in one
    conditional UPDATE; bump the graph version when any changed (cached
    traversals then miss). Updates the stale-edges gauge."""
    now = now or timezone.now()
    hours = threshold_hours if threshold_hours is not None else settings.STALE_EDGE_THRESHOLD_HOURS
    if hours <= 0:
        raise ValueError("threshold_hours must be positive")
    cutoff = now - timedelta(hours=hours)
    with transaction.atomic():
        # A sequential scan, hourly: last_observed_at is left unindexed on purpose
        # (see ServiceDependency.Meta), so re-observations are cheap HOT updates.
        marked = (
            ServiceDependency.objects.filter(is_stale=False, last_observed_at__lt=cutoff)
            .exclude(discovery_source=DiscoverySource.MANUAL)
            .update(is_stale=True, updated_at=now)
        )
        version = graph_version_bump() if marked else graph_version_current()
    stale_total = ServiceDependency.objects.filter(is_stale=True).count()
    STALE_EDGES.set(stale_total)
    logger.info(
        "staleness sweep: %d edge record(s) marked stale (not observed since %s), %d stale in total",
        marked, cutoff.isoformat(), stale_total,
    )
    return StalenessResult(marked_stale=marked, stale_total=stale_total, cutoff=cutoff, graph_version=version)
