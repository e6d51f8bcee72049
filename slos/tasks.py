"""Celery tasks of slos: thin, counts out, acks late."""

import logging

from celery import shared_task

from slos.services import slo_status_refresh

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, soft_time_limit=240, time_limit=280)
def refresh_slo_status() -> dict:
    """Score every active SLO (every SLO_STATUS_INTERVAL_MINUTES); returns
    counts by health and how many were left stale by a telemetry failure.
    The time limits stay under the default 5-minute interval, so runs never pile up."""
    return slo_status_refresh().as_dict()
