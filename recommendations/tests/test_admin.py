"""The admin shows the fleet prior fits and the backtest runs, read-only."""

import pytest
from django.utils import timezone

from recommendations.domain.fleet_prior import DEFAULT_FLEET_PRIOR
from recommendations.models import FleetPrior, RecommendationBacktest

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser(username="admin", password="x"))
    return client


def test_prior_and_backtest_runs_are_listed_and_read_only(staff_client):
    now = timezone.now()
    prior = FleetPrior.objects.create(parameters=DEFAULT_FLEET_PRIOR.as_dict(), services_used=3, is_default=True,
                                      fitted_at=now)
    backtest = RecommendationBacktest.objects.create(computed_at=now, window_days=28, step_days=7, lookback_days=30,
                                                     history_days=182, services=12, tiers={})
    for model, row in (("fleetprior", prior), ("recommendationbacktest", backtest)):
        listing = staff_client.get(f"/admin/recommendations/{model}/")
        assert listing.status_code == 200 and f"/admin/recommendations/{model}/{row.pk}/change/" in (
            listing.content.decode())
        detail = staff_client.get(f"/admin/recommendations/{model}/{row.pk}/change/")
        assert detail.status_code == 200 and 'type="submit" value="Save"' not in detail.content.decode()
        assert staff_client.get(f"/admin/recommendations/{model}/add/").status_code == 403
