"""Celery tasks of recommendations: thin, ids in and counts out, acks late.

`generate_recommendations_batch` (daily) fans out over all active services in
chunks; `expire_recommendations` (hourly) sweeps expired ones.
"""

import logging

from celery import group, shared_task

from graph.models import Service
from recommendations.services import BatchContext, recommendations_expire, recommendations_generate_many
from recommendations.signals import batch_chunk_generated
from telemetry.sources import get_telemetry_source

logger = logging.getLogger(__name__)

BATCH_CHUNK_SIZE = 100


@shared_task(acks_late=True, soft_time_limit=900, time_limit=960)
def generate_recommendations_chunk(service_ids: list[str]) -> dict:
    """Generate for the given service_ids, sharing the graph and the
    dependencies' facts and one write transaction; returns counts by outcome."""
    services = Service.objects.active().filter(service_id__in=service_ids).order_by("service_id")
    outcome = recommendations_generate_many(services=services, source=get_telemetry_source(),
                                            context=BatchContext())
    counts = outcome.as_dict()
    logger.info("recommendation chunk: %d services, %s", len(service_ids), counts, extra={"counts": counts})
    # Receivers (SLO review and auto-approval) must not fail the chunk.
    for receiver, response in batch_chunk_generated.send_robust(sender=generate_recommendations_chunk,
                                                                service_ids=service_ids):
        if isinstance(response, Exception):
            logger.error("after-batch receiver %s failed: %r", receiver, response)
        elif isinstance(response, dict):
            counts.update(response)
    return counts


@shared_task(acks_late=True)
def generate_recommendations_batch(chunk_size: int = BATCH_CHUNK_SIZE) -> dict:
    """Fan out over all active services in chunks (a Celery group); returns
    how many services and chunks were dispatched and the group id."""
    service_ids = list(Service.objects.active().order_by("service_id").values_list("service_id", flat=True))
    chunks = [service_ids[i:i + chunk_size] for i in range(0, len(service_ids), chunk_size)]
    if not chunks:
        return {"services": 0, "chunks": 0, "group_id": None}
    result = group(generate_recommendations_chunk.s(chunk) for chunk in chunks).apply_async()
    result.save()
    return {"services": len(service_ids), "chunks": len(chunks), "group_id": result.id}


@shared_task(acks_late=True, soft_time_limit=300, time_limit=360)
def expire_recommendations() -> dict:
    """Expire active recommendations past their expiry; returns the count.
    (Failures are counted by the task_failure handler in slo_engine.celery.)"""
    return {"expired": recommendations_expire()}
