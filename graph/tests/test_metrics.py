"""/metrics: django-prometheus request and DB metrics, the domain metrics, state
gauges fresh at scrape time, bounded labels, and aggregation across gunicorn
workers."""

import re

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from graph.tests.factories import CircularDependencyAlertFactory, ServiceDependencyFactory, ServiceFactory

pytestmark = pytest.mark.django_db

DOMAIN_METRICS = (
    "slo_engine_ingest_requests",
    "slo_engine_ingest_rows",
    "slo_engine_traversal_duration_seconds",
    "slo_engine_cycle_detection_duration_seconds",
    "slo_engine_open_alerts",
    "slo_engine_recommendation_duration_seconds",
    "slo_engine_recommendations",
    "slo_engine_discovery_runs",
    "slo_engine_discovered_edges",
    "slo_engine_stale_edges",
    "slo_engine_task_failures",
)


def scrape(client) -> dict[str, list]:
    """Metric family name -> its samples, from a GET /metrics."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return {family.name: family.samples for family in text_string_to_metric_families(response.content.decode())}


def sample_value(families: dict, name: str, **labels) -> float:
    for family_samples in families.values():
        for sample in family_samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    raise KeyError(f"no sample {name} {labels}")


def test_metrics_expose_request_db_and_domain_metrics(client):
    client.get("/health/ready")
    families = scrape(client)
    # django-prometheus middleware and database wrappers are both active.
    assert sample_value(families, "django_http_requests_total_by_method_total", method="GET") >= 1
    assert sample_value(families, "django_db_execute_total", vendor="postgresql") >= 1
    missing = [name for name in DOMAIN_METRICS if name not in families]
    assert not missing, f"domain metrics not exported: {missing}"


def test_state_gauges_are_fresh_at_each_scrape(client):
    CircularDependencyAlertFactory.create_batch(3, status="open")
    CircularDependencyAlertFactory(status="acknowledged")
    ServiceDependencyFactory.create_batch(2, is_stale=True)
    ServiceDependencyFactory(is_stale=False)

    families = scrape(client)
    assert sample_value(families, "slo_engine_open_alerts", status="open") == 3
    assert sample_value(families, "slo_engine_open_alerts", status="acknowledged") == 1
    assert sample_value(families, "slo_engine_open_alerts", status="resolved") == 0
    assert sample_value(families, "slo_engine_stale_edges") == 2

    # Rows change behind the app's back (another process, a raw UPDATE): the
    # next scrape reports the new truth.
    from graph.models import CircularDependencyAlert, ServiceDependency

    CircularDependencyAlert.objects.filter(status="open").update(status="resolved")
    ServiceDependency.objects.update(is_stale=True)
    families = scrape(client)
    assert sample_value(families, "slo_engine_open_alerts", status="open") == 0
    assert sample_value(families, "slo_engine_open_alerts", status="resolved") == 3
    assert sample_value(families, "slo_engine_stale_edges") == 3


def test_labels_never_carry_service_ids(client, read_client):
    services = [ServiceFactory(service_id=f"labelcheck-{i}") for i in range(3)]
    ServiceDependencyFactory(source=services[0], target=services[1])
    ServiceDependencyFactory(source=services[1], target=services[2])
    for service in services:
        # Whatever routes exist for a service, their metrics must not name it.
        read_client.get(f"/api/v1/services/{service.service_id}/")
        read_client.get(f"/api/v1/services/{service.service_id}/dependencies?direction=both&depth=2")
        read_client.get(f"/api/v1/services/{service.service_id}/slo-recommendations")
    text = client.get("/metrics").content.decode()
    assert "labelcheck-" not in text
    # Domain label values come from small closed sets.
    for family, samples in scrape(client).items():
        if family.startswith("slo_engine_"):
            for sample in samples:
                for key, value in sample.labels.items():
                    if key != "le":
                        assert re.fullmatch(r"[a-z0-9_\-.]{1,80}", value), (family, key, value)


@pytest.mark.slow
def test_gunicorn_workers_share_one_view_of_the_counters(private_postgres, app_server):
    """With 2 workers every scrape reports the requests served by both, not
    just by the worker that happens to answer the scrape."""
    import psycopg

    server = app_server(env={"DATABASE_URL": private_postgres.url, "REDIS_URL": ""}, workers=2)
    requests_sent = 40
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for _ in range(requests_sent):
            assert http.get("/api/v1/health").status_code == 200
        chain = [f"multiproc-{i}" for i in range(13)]
        seeded = http.post("/api/v1/services/dependencies", headers={
            "Authorization": f"Api-Key {private_postgres.keys['write']}"}, json={
            "edges": [{"source": a, "target": b} for a, b in zip(chain, chain[1:], strict=False)]})
        assert seeded.status_code == 200, seeded.text
    totals, stale_gauges = set(), set()
    with psycopg.connect(private_postgres.url, autocommit=True) as db:
        for round_ in range(6):
            # Change the stale count between scrapes: whichever worker answers,
            # the gauge must report the newest value, not a stale worker's.
            db.execute("UPDATE graph_servicedependency SET is_stale = (id %% 6 < %s)", [round_])
            stale = db.execute("SELECT COUNT(*) FROM graph_servicedependency WHERE is_stale").fetchone()[0]
            # Fresh connections: sync workers close each one, so scrapes land
            # on either worker.
            text = httpx.get(f"{server.url}/metrics", timeout=10).text
            families = {f.name: f.samples for f in text_string_to_metric_families(text)}
            totals.add(sample_value(families, "django_http_requests_total_by_view_transport_method_total",
                                    view="api-health", method="GET"))
            assert stale >= 2 * round_
            stale_gauges.add(sample_value(families, "slo_engine_stale_edges") == stale)
        db.execute("UPDATE graph_servicedependency SET is_stale = false")
    assert totals == {requests_sent}
    assert stale_gauges == {True}


@pytest.mark.slow
def test_a_scrape_during_a_database_outage_still_exports_the_process_metrics(app_server):
    """The state gauges cannot be refreshed, but the scrape succeeds and shows
    the outage in the database metrics instead of failing."""
    from slo_engine.processes import free_port

    server = app_server(env={"DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/nowhere",
                             "REDIS_URL": "", "DB_CONNECT_TIMEOUT": "1"})
    assert httpx.get(f"{server.url}/health/ready", timeout=10).status_code == 503
    response = httpx.get(f"{server.url}/metrics", timeout=10)
    assert response.status_code == 200
    families = {f.name: f.samples for f in text_string_to_metric_families(response.text)}
    assert sample_value(families, "django_db_new_connection_errors_total", vendor="postgresql") >= 1
    assert "slo_engine_stale_edges" in families
    assert "Could not refresh state gauges" in server.logs()
