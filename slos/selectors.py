"""Reads of SLOs of record (DESIGN.md section 13)."""

from collections.abc import Iterable

from django.db.models import QuerySet

from graph.models import Service
from slos.filtersets import SloFilterSet
from slos.models import ServiceLevelObjective, SloChange, SloSliType, SloState


def slo_targets_active(*, service_ids: Iterable[str] | None = None) -> dict[str, float]:
    """Map service_id (the slug) to the target of its active availability SLO.

    `service_ids` limits the answer to those services (None: the whole fleet);
    services without an active availability SLO are absent from the result.
    One query on the partial unique index of active SLOs.
    """
    rows = ServiceLevelObjective.objects.filter(
        state=SloState.ACTIVE, sli_type=SloSliType.AVAILABILITY, metric="availability"
    )
    if service_ids is not None:
        rows = rows.filter(service__service_id__in=list(service_ids))
    return dict(rows.values_list("service__service_id", "target"))


def slo_list_active(*, filters: dict | None = None) -> QuerySet[ServiceLevelObjective]:
    """Every active SLO of a service not retired, with its service and status
    (one query), ordered by service and metric; `filters` as `SloFilterSet`
    takes them (health, team, criticality, review_due, ordering). Raises
    ValueError on a bad filter value."""
    rows = (ServiceLevelObjective.objects.filter(state=SloState.ACTIVE, service__retired_at__isnull=True)
            .select_related("service", "status").order_by("service__service_id", "sli_type", "metric"))
    if filters:
        filterset = SloFilterSet(data=filters, queryset=rows)
        if not filterset.is_valid():
            raise ValueError(filterset.errors.as_json())
        rows = filterset.qs
    return rows


def slos_of_service(*, service: Service) -> list[ServiceLevelObjective]:
    """The active SLOs of one service with their status, by SLI and metric."""
    return list(ServiceLevelObjective.objects.filter(service=service, state=SloState.ACTIVE)
                .select_related("service", "status").order_by("sli_type", "metric"))


def slo_history(*, service: Service) -> QuerySet[SloChange]:
    """The audit trail of one service, newest first."""
    return SloChange.objects.filter(service=service).select_related("service").order_by("-at", "-id")
