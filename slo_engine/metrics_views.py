"""`/metrics`: django-prometheus's exporter, with the state gauges refreshed
first (by the refreshers the apps registered with `on_scrape`) so they are
fresh at scrape time."""

import logging

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django_prometheus.exports import ExportToDjangoView

from slo_engine.metrics import SCRAPE_REFRESHERS

logger = logging.getLogger("slo_engine.metrics")


def metrics(request: HttpRequest) -> HttpResponse:
    """The Prometheus text exposition of every metric of this process (or of
    every process sharing PROMETHEUS_MULTIPROC_DIR)."""
    try:
        for refresher in SCRAPE_REFRESHERS:
            refresher()
    except DatabaseError:
        # A scrape during a database outage still exports the process
        # metrics (they show the outage); the gauges keep their last value.
        logger.warning("Could not refresh state gauges for /metrics", exc_info=True)
    return ExportToDjangoView(request)
