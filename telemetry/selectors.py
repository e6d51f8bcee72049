"""Reads of SLI aggregates (keyword-only, no writes)."""

from django.db.models import F, Window
from django.db.models.functions import RowNumber

from graph.models import Service
from telemetry.models import SliAggregate


def sli_aggregates_latest(
    *, service: Service, sli_type: str | None = None, time_window: str | None = None
) -> list[SliAggregate]:
    """The latest aggregate of each (sli_type, time_window) of `service`,
    optionally only one SLI type and/or window, ordered by sli_type then window.

    One query: ROW_NUMBER() over each (sli_type, time_window) partition by
    computed_at descending, keeping the first row; the partition scan follows
    sli_aggregate_latest_idx (service, sli_type, time_window, computed_at desc).
    """
    queryset = SliAggregate.objects.filter(service=service)
    if sli_type:
        queryset = queryset.filter(sli_type=sli_type)
    if time_window:
        queryset = queryset.filter(time_window=time_window)
    latest = queryset.annotate(
        rank=Window(RowNumber(), partition_by=[F("sli_type"), F("time_window")], order_by=F("computed_at").desc())
    ).filter(rank=1)
    return sorted(latest, key=lambda row: (row.sli_type, _WINDOW_ORDER.get(row.time_window, 99)))


_WINDOW_ORDER = {"1h": 0, "1d": 1, "7d": 2, "28d": 3, "90d": 4}
