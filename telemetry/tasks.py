"""Celery tasks of telemetry: thin wrappers that call a service and return
its counts (recorded by django-celery-results). Transient failures (Prometheus
unreachable, a database connection lost) are retried with exponential backoff."""

import logging

from celery import shared_task

from slo_engine.tasks import retry_options
from telemetry.sources import TelemetryUnavailable

logger = logging.getLogger(__name__)

RETRY_OPTIONS = retry_options(TelemetryUnavailable)


@shared_task(name="telemetry.tasks.discover_otel_graph", soft_time_limit=300, time_limit=360, **RETRY_OPTIONS)
def discover_otel_graph(lookback: str | None = None) -> dict:
    """Merge the OTel service graph of the trailing `lookback` into the graph."""
    from telemetry.services import otel_graph_discover

    return otel_graph_discover(lookback=lookback).as_dict()


@shared_task(name="telemetry.tasks.discover_mesh_graph", soft_time_limit=300, time_limit=360, **RETRY_OPTIONS)
def discover_mesh_graph(lookback: str | None = None) -> dict:
    """Merge the service mesh's edges (MESH_DISCOVERY) of the trailing `lookback` into the graph."""
    from telemetry.services import mesh_graph_discover

    return mesh_graph_discover(lookback=lookback).as_dict()


@shared_task(name="telemetry.tasks.compute_sli_aggregates", soft_time_limit=1800, time_limit=1900, **RETRY_OPTIONS)
def compute_sli_aggregates(service_ids: list[str] | None = None) -> dict:
    """Compute SLI aggregates of every active service (or `service_ids`)."""
    from telemetry.services import sli_aggregates_compute

    return sli_aggregates_compute(services=service_ids).as_dict()
