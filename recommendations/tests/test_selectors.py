"""Reads of recommendations: the availabilities the what-if analyses multiply."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from graph.tests.factories import ServiceFactory
from recommendations.models import SloRecommendation
from recommendations.selectors import dependency_availabilities, dependency_availabilities_fleet
from recommendations.tests.factories import SloRecommendationFactory
from telemetry.models import SliAggregate


def _aggregate(service_id: str, value: str, *, hours_ago: int = 0, window: str = "28d") -> None:
    SliAggregate.objects.create(service=ServiceFactory(service_id=service_id), sli_type="availability",
                                time_window=window, value=Decimal(value), sample_count=100,
                                computed_at=timezone.now() - timedelta(hours=hours_ago))


@pytest.fixture
def fleet(db):
    SloRecommendationFactory(service=ServiceFactory(service_id="checkout"), observed=0.9991, dependencies=[
        {"service_id": "payment", "availability": 0.998, "availability_basis": "edge", "budget_share": 0.4},
        {"service_id": "cart", "availability": 0.9995, "availability_basis": "service", "budget_share": 0.1},
        {"service_id": "quote", "availability": None, "budget_share": None, "flags": ["no_data"]},
    ])
    SloRecommendationFactory(service=ServiceFactory(service_id="payment"), observed=0.995)
    SloRecommendationFactory(service=ServiceFactory(service_id="old"), observed=0.5, status="superseded")
    _aggregate("cart", "0.999000000", hours_ago=2)
    _aggregate("cart", "0.999500000")
    _aggregate("cart", "0.900000000", window="7d")
    _aggregate("payment", "0.990000000")  # a recommendation wins over the aggregate


def test_service_basis_from_recommendations_then_the_latest_28_day_aggregate(fleet):
    seen = dependency_availabilities()
    assert seen.service == {"checkout": 0.9991, "payment": 0.995, "cart": 0.9995}


def test_edge_basis_from_the_callers_recommendation(fleet):
    seen = dependency_availabilities()
    assert dict(seen.edge) == {("checkout", "payment"): 0.998}
    assert seen.seen_by("checkout", "payment") == (0.998, "edge")
    assert seen.seen_by("other", "payment") == (0.995, "service")


def test_fleet_availabilities_are_cached_until_what_they_read_changes(fleet, django_assert_num_queries):
    first = dependency_availabilities_fleet()
    with django_assert_num_queries(2):  # the fingerprint only
        assert dependency_availabilities_fleet() == first
    _aggregate("quote", "0.997000000")
    assert dependency_availabilities_fleet().service["quote"] == 0.997
    SloRecommendation.objects.filter(service__service_id="payment").update(status="expired")
    assert dependency_availabilities_fleet().service["payment"] == 0.99  # back to its aggregate
