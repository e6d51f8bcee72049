"""Edge health (DESIGN.md section 8): the request rate and failure ratio a
discovery source measured on its own edge records."""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from graph.models import DiscoverySource, ServiceDependency

# Health is a measurement, not topology: recording it does not bump the graph
# version (real traffic never measures the same twice, so every discovery run
# would empty the traversal caches). Cached graph and subgraph bodies may show
# the previous measurement for up to GRAPH_CACHE_SECONDS (10 minutes).
RATE_DIGITS = 4
RATIO_DIGITS = 6


@dataclass(frozen=True)
class EdgeHealth:
    """What one source measured on one (source, target) pair over a lookback."""

    source: str
    target: str
    request_rate: float
    failure_ratio: float | None


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def dependency_health_record(
    *, discovery_source: str, measurements: list[EdgeHealth], observed_at: datetime | None = None
) -> int:
    """Store `measurements` on `discovery_source`'s records of those pairs
    (pairs without a record are ignored: discovery ingests them first).
    `health_observed_at` is stamped on every measured record. Returns how
    many records' rate or ratio changed."""
    if discovery_source not in DiscoverySource.values:
        raise ValueError(f"discovery_source must be one of {DiscoverySource.values}")
    if not measurements:
        return 0
    observed_at = observed_at or timezone.now()
    wanted = {
        (m.source, m.target): (_rounded(max(m.request_rate, 0.0), RATE_DIGITS),
                               _rounded(None if m.failure_ratio is None else min(max(m.failure_ratio, 0.0), 1.0),
                                        RATIO_DIGITS))
        for m in measurements
    }
    pairs = Q()
    for source, target in wanted:
        pairs |= Q(source__service_id=source, target__service_id=target)
    with transaction.atomic():
        records = list(
            ServiceDependency.objects.select_for_update(of=("self",))
            .filter(pairs, discovery_source=discovery_source)
            .select_related("source", "target")
            .order_by("id")
        )
        changed = 0
        for record in records:
            rate, ratio = wanted[(record.source.service_id, record.target.service_id)]
            if (record.request_rate, record.failure_ratio) != (rate, ratio):
                changed += 1
            record.request_rate, record.failure_ratio, record.health_observed_at = rate, ratio, observed_at
        ServiceDependency.objects.bulk_update(
            records, ["request_rate", "failure_ratio", "health_observed_at"], batch_size=2000
        )
    return changed
