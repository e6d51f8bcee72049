"""A real Celery worker for tests, consuming the real Redis broker.

Usage (register this module in the root `conftest.py` `pytest_plugins`)::

    @pytest.mark.celery_worker
    @pytest.mark.django_db(transaction=True)
    def test_task_runs(live_celery_worker):
        result = some_task.delay()
        assert result.get(timeout=30) == {...}
        assert TaskResult.objects.get(task_id=result.id).status == "SUCCESS"

`live_celery_worker` starts the project's Celery app as a worker in a thread
of the test process (`celery.contrib.testing.worker.start_worker`, solo pool)
for the duration of one test. It needs `REDIS_URL` (the broker; every test run
uses its own Redis database number, so it consumes only this run's queue; the
queue is purged first, so nothing left by an earlier, interrupted run is
executed). The worker shares the test database, so tests must use
`django_db(transaction=True)`: the worker's writes (model rows, the
django-celery-results `TaskResult` rows) are visible to the test only when
they are committed. Settings overridden with the `settings` fixture apply to
the worker too. Hard time limits need the prefork pool and are not enforced
in this worker; everything else (retries, results, signals) is real.
"""

import threading

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.conf import settings
from django.db import connections


def _close_worker_connections(**_kwargs) -> None:
    # The worker thread opens its own database connections; closing them after
    # each task lets pytest-django flush and drop the test database.
    if threading.current_thread() is not threading.main_thread():
        connections.close_all()


@pytest.fixture
def live_celery_worker(transactional_db):
    """A running Celery worker (solo pool, in a thread) over the real Redis
    broker; stopped when the test ends. Yields the WorkController."""
    from slo_engine.celery import app

    if settings.CELERY_TASK_ALWAYS_EAGER or not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.fail("live_celery_worker needs a real Redis broker: set REDIS_URL (e.g. redis://127.0.0.1:6379/N)")
    hijack = app.conf.worker_hijack_root_logger
    app.conf.worker_hijack_root_logger = False  # keep pytest's log capture
    app.control.purge()
    task_postrun.connect(_close_worker_connections, weak=False)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING",
                          shutdown_timeout=30) as worker:
            yield worker
    finally:
        task_postrun.disconnect(_close_worker_connections)
        app.conf.worker_hijack_root_logger = hijack
        app.control.purge()
