"""Services an ingestion creates get their SLI aggregates right after the
commit, on a real worker, from a real Prometheus."""

import pytest
import redis
from django.conf import settings

from slo_engine.celery import app
from slo_engine.processes import wait_until
from telemetry.models import SliAggregate
from telemetry.receivers import MAX_SERVICES_PER_ENQUEUE, aggregates_for_new_services
from telemetry.tasks import compute_sli_aggregates


@pytest.mark.prometheus
@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_an_ingest_that_creates_services_enqueues_their_aggregates(settings, telemetry_prometheus,
                                                                   live_celery_worker, write_client):
    settings.TELEMETRY_SOURCE = "prometheus"
    settings.PROMETHEUS_URL = telemetry_prometheus.url
    settings.PROMETHEUS_RETRIES = 0
    response = write_client.post("/api/v1/services/dependencies", {
        "edges": [{"source": "checkout", "target": "payment", "attributes": {}}],
    }, format="json")
    assert response.status_code == 200, response.content

    wait_until(lambda: SliAggregate.objects.filter(service__service_id="payment").count() == 35, timeout=60,
               what="payment's aggregates")
    assert SliAggregate.objects.filter(service__service_id="checkout").count() == 35

    # Sending the same graph again creates nothing, so nothing is enqueued:
    # a task sent after it on the one-process worker finds the rows as they were.
    write_client.post("/api/v1/services/dependencies", {
        "edges": [{"source": "checkout", "target": "payment", "attributes": {}}],
    }, format="json")
    compute_sli_aggregates.delay(service_ids=["nobody"]).get(timeout=30)
    assert SliAggregate.objects.filter(service__service_id="payment").count() == 35


def _queued() -> int:
    """Messages waiting in the broker's default queue (a Redis list)."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        return client.llen("celery")
    finally:
        client.close()


@pytest.mark.django_db
def test_a_bulk_import_leaves_its_services_to_the_hourly_run(caplog):
    app.control.purge()
    aggregates_for_new_services(None, service_ids=["one", "two"])
    assert _queued() == 1

    ids = [f"bulk-{i}" for i in range(MAX_SERVICES_PER_ENQUEUE + 1)]
    with caplog.at_level("INFO", logger="telemetry.receivers"):
        aggregates_for_new_services(None, service_ids=ids)
    assert _queued() == 1
    assert "come with the hourly run" in caplog.text
    app.control.purge()
