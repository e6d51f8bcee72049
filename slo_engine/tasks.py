"""What every Celery task of the project shares."""

from django.db import OperationalError


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
