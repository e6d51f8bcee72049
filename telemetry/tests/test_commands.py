"""discover_otel_graph, compute_sli_aggregates and mark_stale_edges commands."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from graph.models import ServiceDependency
from graph.tests.factories import ServiceDependencyFactory, ServiceFactory
from slo_engine.processes import free_port
from telemetry.models import SliAggregate

pytestmark = [pytest.mark.prometheus, pytest.mark.django_db]


@pytest.fixture
def prometheus_settings(settings, telemetry_prometheus):
    settings.TELEMETRY_SOURCE = "prometheus"
    settings.PROMETHEUS_URL = telemetry_prometheus.url
    settings.PROMETHEUS_RETRIES = 0
    return settings


def test_discover_otel_graph_command(prometheus_settings):
    out = StringIO()
    call_command("discover_otel_graph", "--lookback", "1h", stdout=out)
    assert ("10 edge(s) seen, 8 upserted, 2 skipped; databases: 10-0-3-7-5432, payments-db, "
            "redis-cart-svc-cluster-local; externals: api-stripe-com") in out.getvalue()
    assert ServiceDependency.objects.count() == 8


def test_discover_mesh_graph_command(settings, mesh_prometheus):
    settings.PROMETHEUS_URL = mesh_prometheus.url
    settings.MESH_DISCOVERY = "off"
    with pytest.raises(CommandError, match="MESH_DISCOVERY is off"):
        call_command("discover_mesh_graph", stdout=StringIO())
    out = StringIO()
    call_command("discover_mesh_graph", "--mesh", "linkerd", "--lookback", "1h", stdout=out)
    assert "2 upserted" in out.getvalue()
    assert set(ServiceDependency.objects.values_list("discovery_source", flat=True)) == {"service_mesh"}


def test_discover_otel_graph_command_with_prometheus_down(settings):
    settings.TELEMETRY_SOURCE = "prometheus"
    settings.PROMETHEUS_URL = f"http://127.0.0.1:{free_port()}"
    settings.PROMETHEUS_RETRIES = 0
    with pytest.raises(CommandError, match="is unavailable"):
        call_command("discover_otel_graph", stdout=StringIO())


def test_compute_sli_aggregates_command(prometheus_settings):
    ServiceFactory(service_id="payment")
    ServiceFactory(service_id="checkout")
    out = StringIO()
    call_command("compute_sli_aggregates", "--service", "payment", stdout=out)
    assert "1 service(s), 35 aggregate row(s) written" in out.getvalue()
    assert SliAggregate.objects.filter(service__service_id="checkout").count() == 0


def test_mark_stale_edges_command():
    ServiceDependencyFactory(
        source=ServiceFactory(service_id="a"), target=ServiceFactory(service_id="b"),
        discovery_source="kubernetes", last_observed_at=timezone.now() - timedelta(hours=3),
    )
    out = StringIO()
    call_command("mark_stale_edges", "--threshold-hours", "2", stdout=out)
    assert "1 edge record(s) marked stale" in out.getvalue()
    assert ServiceDependency.objects.get().is_stale
