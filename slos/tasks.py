"""Celery tasks of slos: thin, ids in and counts out, acks late.

`refresh_slo_status` (every SLO_STATUS_INTERVAL_MINUTES) fans the active SLOs
out in chunks, so scoring a large fleet from Prometheus spreads over the
workers and each chunk stays well inside the interval."""

import logging

from celery import group, shared_task

from slos.models import ServiceLevelObjective, SloState
from slos.services import slo_status_refresh

logger = logging.getLogger(__name__)

CHUNK_SIZE = 250


@shared_task(acks_late=True, soft_time_limit=240, time_limit=280)
def refresh_slo_status_chunk(slo_ids: list[int]) -> dict:
    """Score the given SLOs (those still active); returns counts by health
    and how many were left stale by a telemetry failure."""
    slos = (ServiceLevelObjective.objects.filter(pk__in=slo_ids, state=SloState.ACTIVE)
            .select_related("service").order_by("pk"))
    counts = slo_status_refresh(slos=slos).as_dict()
    logger.info("SLO status chunk: %d SLOs, %s", len(slo_ids), counts, extra={"counts": counts})
    return counts


@shared_task(acks_late=True)
def refresh_slo_status(chunk_size: int = CHUNK_SIZE) -> dict:
    """Fan out over every active SLO in chunks (a Celery group); returns how
    many SLOs and chunks were dispatched and the group id."""
    ids = list(ServiceLevelObjective.objects.filter(state=SloState.ACTIVE).order_by("pk").values_list("pk", flat=True))
    chunks = [ids[i:i + chunk_size] for i in range(0, len(ids), chunk_size)]
    if not chunks:
        return {"slos": 0, "chunks": 0, "group_id": None}
    result = group(refresh_slo_status_chunk.s(chunk) for chunk in chunks).apply_async()
    result.save()
    return {"slos": len(ids), "chunks": len(chunks), "group_id": result.id}
