"""Celery tasks of recommendations: thin, ids in and counts out, acks late.

`generate_recommendations_batch` (daily) refits the fleet prior, fans out
over all active services in chunks and queues a fresh backtest
(`backtest_recommendations`); `expire_recommendations` (hourly) sweeps
expired ones and prunes those past RECOMMENDATION_RETENTION_DAYS.
"""

import logging

from celery import group, shared_task

from graph.models import Service
from recommendations.services import (
    BatchContext,
    backtest_run,
    fleet_prior_refit,
    recommendations_expire,
    recommendations_generate_many,
    recommendations_prune,
)
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


@shared_task(acks_late=True, soft_time_limit=900, time_limit=960)
def generate_recommendations_batch(chunk_size: int = BATCH_CHUNK_SIZE) -> dict:
    """Refit the fleet prior (every chunk then uses it), fan out over all
    active services in chunks (a Celery group) and queue a fresh backtest;
    returns how many services and chunks were dispatched, the group id and
    the services the prior was fitted on."""
    prior = fleet_prior_refit(source=get_telemetry_source())
    service_ids = list(Service.objects.active().order_by("service_id").values_list("service_id", flat=True))
    chunks = [service_ids[i:i + chunk_size] for i in range(0, len(service_ids), chunk_size)]
    backtest_recommendations.delay()
    if not chunks:
        return {"services": 0, "chunks": 0, "group_id": None, "prior_services": prior.services_used}
    result = group(generate_recommendations_chunk.s(chunk) for chunk in chunks).apply_async()
    result.save()
    return {"services": len(service_ids), "chunks": len(chunks), "group_id": result.id,
            "prior_services": prior.services_used}


@shared_task(acks_late=True, soft_time_limit=3600, time_limit=3660)
def backtest_recommendations(step_days: int = 7) -> dict:
    """Walk-forward backtest over the stored history; stores the run (the
    calibration API serves the latest) and returns its headline figures."""
    run = backtest_run(source=get_telemetry_source(), step_days=step_days)
    return {"backtest_id": run.pk, "services": run.services,
            **{f"{name}_pairs": tier["pairs"] for name, tier in run.tiers.items()}}


@shared_task(acks_late=True, soft_time_limit=300, time_limit=360)
def expire_recommendations() -> dict:
    """Expire active recommendations past their expiry, then delete those
    superseded or expired longer than RECOMMENDATION_RETENTION_DAYS; returns
    both counts. (Failures are counted by the task_failure handler in
    slo_engine.celery.)"""
    return {"expired": recommendations_expire(), "pruned": recommendations_prune()}
