"""Reads of SLOs of record (DESIGN.md section 13)."""

from collections.abc import Iterable

from slos.models import ServiceLevelObjective, SloSliType, SloState


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
