"""/metrics carries the SLO gauges, fresh at scrape time."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from slos.tests.factories import SloFactory, SloStatusFactory

pytestmark = pytest.mark.django_db


def _gauges(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {(sample.name, sample.labels.get("health")): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples if sample.name.startswith("slo_engine_slos")}


def test_slo_gauges_count_active_slos_by_health_and_review(client):
    SloStatusFactory(health="critical")
    SloStatusFactory(health="critical", slo__review_due=True)
    SloStatusFactory(health="healthy", slo__state="retired", slo__retired_at="2026-01-01T00:00:00Z")
    SloFactory()  # not scored yet: unknown
    gauges = _gauges(client)
    assert gauges[("slo_engine_slos", "critical")] == 2
    assert gauges[("slo_engine_slos", "healthy")] == 0
    assert gauges[("slo_engine_slos", "unknown")] == 1
    assert gauges[("slo_engine_slos_review_due", None)] == 1
