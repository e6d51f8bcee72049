from datetime import timedelta

import factory
from django.utils import timezone

from graph.tests.factories import ServiceFactory
from recommendations.models import SloRecommendation


class SloRecommendationFactory(factory.django.DjangoModelFactory):
    """An active availability recommendation generated now (tiers empty)."""

    class Meta:
        model = SloRecommendation

    service = factory.SubFactory(ServiceFactory)
    sli_type = "availability"
    metric = "availability"
    window_days = 28
    generated_at = factory.LazyFunction(timezone.now)
    lookback_window_start = factory.LazyAttribute(lambda row: row.generated_at - timedelta(days=30))
    lookback_window_end = factory.LazyAttribute(lambda row: row.generated_at)
    expires_at = factory.LazyAttribute(lambda row: row.generated_at + timedelta(hours=24))
    status = "active"
