"""Gunicorn settings for production: `gunicorn -c gunicorn.conf.py slo_engine.wsgi:application`.

Environment: BIND (default 0.0.0.0:8000), WEB_CONCURRENCY (worker processes,
default 2 x CPUs + 1), GUNICORN_THREADS (threads per worker, default 1 = sync
workers), GUNICORN_TIMEOUT (s, default 30), GUNICORN_ACCESS_LOG (`-` for
stdout; off by default: the application logs one structured line per request
with its correlation id), PROMETHEUS_MULTIPROC_DIR (see below). Tracing
(OTEL_* variables, see slo_engine/tracing) is set up in each worker after the
fork: the exporter's thread must belong to the process that serves.
"""

import multiprocessing
import os
import shutil
import tempfile

bind = os.environ.get("BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
backlog = int(os.environ.get("GUNICORN_BACKLOG", "2048"))
# Recycle workers now and then so a slow leak cannot grow without bound;
# the jitter keeps them from all restarting at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "500"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Each worker is a process with its own prometheus-client registry; without a
# shared directory a scrape of /metrics would see one random worker's counts.
# With several workers and no directory configured, use a private one. It is
# set here, in the arbiter, before any worker imports prometheus-client.
_private_metrics_dir = None
if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _private_metrics_dir = tempfile.mkdtemp(prefix="slo-prometheus-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _private_metrics_dir


def on_starting(server):
    """Start from an empty metrics directory: samples of a previous run's
    processes would otherwise be summed into this one's."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)


def post_fork(server, worker):
    """Each worker sets its own tracing up (a no-op without an OTLP endpoint),
    before it loads the application, so the Django instrumentation's
    middleware is in the handler the worker builds."""
    from slo_engine.tracing import configure_tracing

    configure_tracing()


def worker_exit(server, worker):
    """Export the spans still buffered before the worker goes."""
    from slo_engine.tracing import shutdown_tracing

    shutdown_tracing()


def child_exit(server, worker):
    """Drop a dead worker's live gauges (its counters stay summed in)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics directory this file created (not one you set)."""
    if _private_metrics_dir:
        shutil.rmtree(_private_metrics_dir, ignore_errors=True)
