"""What telemetry does when the graph changes (connected in apps.py)."""

import logging

logger = logging.getLogger(__name__)

# A bulk import of more services than this leaves them to the hourly run
# rather than queueing one very long task.
MAX_SERVICES_PER_ENQUEUE = 1000


def aggregates_for_new_services(sender, *, service_ids: list[str], **_kwargs) -> None:
    """Enqueue SLI aggregates of services an ingestion just created (the
    signal is sent after commit, so the worker sees the rows)."""
    from telemetry.tasks import compute_sli_aggregates

    if len(service_ids) > MAX_SERVICES_PER_ENQUEUE:
        logger.info("%d new services: their SLI aggregates come with the hourly run", len(service_ids))
        return
    compute_sli_aggregates.delay(service_ids=sorted(service_ids))
