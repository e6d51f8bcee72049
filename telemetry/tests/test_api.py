"""GET /api/v1/services/{service_id}/sli-aggregates."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from graph.tests.factories import ServiceFactory
from telemetry.models import SliAggregate

pytestmark = pytest.mark.django_db


def _aggregate(service, sli_type, window, value, computed_at, samples=1000):
    return SliAggregate.objects.create(
        service=service, sli_type=sli_type, time_window=window, value=Decimal(str(value)),
        sample_count=samples, computed_at=computed_at,
    )


@pytest.fixture
def checkout():
    service = ServiceFactory(service_id="checkout")
    now = timezone.now()
    for hours_ago, availability in ((2, 0.99), (1, 0.995)):
        stamp = now - timedelta(hours=hours_ago)
        _aggregate(service, "availability", "1h", availability, stamp)
        _aggregate(service, "availability", "28d", availability - 0.001, stamp)
        _aggregate(service, "latency_p99", "1h", 400 + hours_ago, stamp)
    _aggregate(ServiceFactory(service_id="other"), "availability", "1h", 0.5, now)
    return service


def test_latest_aggregate_per_type_and_window(read_client, checkout):
    response = read_client.get("/api/v1/services/checkout/sli-aggregates")
    assert response.status_code == 200
    body = response.json()
    assert body["service_id"] == "checkout"
    assert [(a["sli_type"], a["time_window"], a["value"]) for a in body["aggregates"]] == [
        ("availability", "1h", 0.995),
        ("availability", "28d", 0.994),
        ("latency_p99", "1h", 401.0),
    ]
    assert body["aggregates"][0]["sample_count"] == 1000


def test_filters(read_client, checkout):
    body = read_client.get("/api/v1/services/checkout/sli-aggregates/?sli_type=availability&time_window=28d").json()
    assert [(a["sli_type"], a["time_window"]) for a in body["aggregates"]] == [("availability", "28d")]
    body = read_client.get("/api/v1/services/checkout/sli-aggregates?time_window=1h").json()
    assert {a["sli_type"] for a in body["aggregates"]} == {"availability", "latency_p99"}


def test_bad_filter_is_a_422_naming_the_field(read_client, checkout):
    response = read_client.get("/api/v1/services/checkout/sli-aggregates?time_window=2h")
    assert response.status_code == 422
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "time_window"


def test_unknown_service_is_404(read_client):
    response = read_client.get("/api/v1/services/nope/sli-aggregates")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")


def test_service_without_aggregates_is_an_empty_list(read_client):
    ServiceFactory(service_id="new")
    assert read_client.get("/api/v1/services/new/sli-aggregates").json() == {"service_id": "new", "aggregates": []}


def test_needs_an_api_key(anon_client, checkout):
    assert anon_client.get("/api/v1/services/checkout/sli-aggregates").status_code in (401, 403)


def test_query_count_does_not_grow_with_history(read_client, checkout, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):  # API key lookup + service + one aggregates query
        assert read_client.get("/api/v1/services/checkout/sli-aggregates").status_code == 200
