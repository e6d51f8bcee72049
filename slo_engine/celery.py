"""Celery application. Configuration comes from Django settings (CELERY_*).

The correlation id of the request that enqueued a task travels in the task's
headers and is restored around its execution, so the task's log lines carry it.
Workers log through settings.LOGGING (LOG_FORMAT, LOG_LEVEL), like the web.
A task that fails for good (retries exhausted, time limit, bug) increments
`slo_engine_task_failures_total{task=...}`; retries are not failures.

Tracing (slo_engine/tracing) is set up in the process that runs the tasks:
each prefork pool process on `worker_process_init`; with the solo or threads
pool (no child processes), the worker itself on `worker_init`. The prefork
parent only supervises and starts no exporter thread before it forks.
"""

import os

from celery import Celery
from celery.signals import (
    before_task_publish,
    setup_logging,
    task_failure,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_shutdown,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "slo_engine.settings")

app = Celery("slo_engine")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Not "correlation_id": Celery already uses that message property for the task id.
_HEADER = "x_correlation_id"


@before_task_publish.connect
def _attach_correlation_id(headers=None, **_kwargs):
    from slo_engine.logging import correlation_id_var

    if headers is not None and _HEADER not in headers:
        headers[_HEADER] = correlation_id_var.get()


_tokens: dict[str, object] = {}


@setup_logging.connect
def _use_django_logging(**_kwargs):
    """Workers and beat log like the web processes (settings.LOGGING:
    LOG_FORMAT and LOG_LEVEL, correlation and trace ids on every line)
    instead of Celery replacing the root logger's handlers with its own.
    A worker told to leave the root logger alone (worker_hijack_root_logger
    off, as the in-process test worker is) keeps its host's logging."""
    from logging.config import dictConfig

    from django.conf import settings

    if app.conf.worker_hijack_root_logger:
        dictConfig(settings.LOGGING)


@task_prerun.connect
def _restore_correlation_id(task_id=None, task=None, **_kwargs):
    from slo_engine.logging import correlation_id_var
    from slo_engine.middleware import new_correlation_id

    incoming = getattr(task.request, _HEADER, None) or (task.request.headers or {}).get(_HEADER)
    if not incoming or incoming == "-":
        incoming = new_correlation_id()
    _tokens[task_id] = correlation_id_var.set(incoming)


@task_postrun.connect
def _clear_correlation_id(task_id=None, **_kwargs):
    from slo_engine.logging import correlation_id_var

    token = _tokens.pop(task_id, None)
    if token is not None:
        correlation_id_var.reset(token)


@task_failure.connect
def _count_failure(sender=None, **_kwargs):
    from slo_engine.metrics import TASK_FAILURES

    TASK_FAILURES.labels(task=getattr(sender, "name", None) or "unknown").inc()


def pool_forks_processes(pool_cls) -> bool:
    """Whether the worker's pool (a class or a name such as "prefork") runs
    tasks in forked child processes."""
    from celery import concurrency
    from celery.concurrency.prefork import TaskPool as PreforkPool

    implementation = concurrency.get_implementation(pool_cls)
    return isinstance(implementation, type) and issubclass(implementation, PreforkPool)


@worker_init.connect
def _trace_worker(sender=None, **_kwargs):
    from slo_engine.tracing import configure_tracing

    if sender is not None and not pool_forks_processes(sender.pool_cls):
        configure_tracing()


@worker_process_init.connect
def _trace_pool_process(**_kwargs):
    from slo_engine.tracing import configure_tracing

    configure_tracing()


@worker_process_shutdown.connect
@worker_shutdown.connect
def _flush_traces(**_kwargs):
    from slo_engine.tracing import shutdown_tracing

    shutdown_tracing()
