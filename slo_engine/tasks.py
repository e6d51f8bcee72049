"""What every Celery task of the project shares."""

import logging

from django.db import OperationalError, transaction

logger = logging.getLogger(__name__)


def retry_options(*transient: type[BaseException]) -> dict:
    """`shared_task` options that retry on `transient` errors (and on a lost
    database connection or a deadlock, always) with jittered exponential
    backoff: waits of up to 2, 4, 8, 16, 32 s, at most 5 retries, so a
    restart of PostgreSQL or Prometheus is ridden out."""
    return {
        "autoretry_for": (*transient, OperationalError),
        "retry_backoff": 2,
        "retry_backoff_max": 300,
        "retry_jitter": True,
        "max_retries": 5,
    }


def enqueue(task, **kwargs) -> bool:
    """Send `task(**kwargs)` to the broker now, without publish retries.

    For follow-up work of a write that has already committed: a broker outage
    must not turn that write into an error, so the failure is logged (with
    the correlation id) and the periodic run catches up. Returns whether the
    task was sent."""
    try:
        task.apply_async(kwargs=kwargs, retry=False)
    except Exception:
        logger.exception("could not enqueue %s; its periodic run will catch up", task.name)
        return False
    return True


def enqueue_on_commit(task, **kwargs) -> None:
    """`enqueue(task, **kwargs)` once the current transaction commits."""
    transaction.on_commit(lambda: enqueue(task, **kwargs))
