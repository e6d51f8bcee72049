from datetime import timedelta

import factory
from django.utils import timezone

from graph.tests.factories import ServiceFactory
from recommendations.models import SloRecommendation


class SloRecommendationFactory(factory.django.DjangoModelFactory):
    """An active availability recommendation; pass `observed` (the service's
    own availability) and `dependencies` (the rows of `dependency_impact`)."""

    class Meta:
        model = SloRecommendation
        exclude = ("observed", "dependencies", "balanced")

    observed = 0.999
    dependencies = factory.LazyFunction(list)
    balanced = 0.995

    service = factory.SubFactory(ServiceFactory)
    sli_type = "availability"
    metric = "availability"
    window_days = 28
    status = "active"
    tiers = factory.LazyAttribute(lambda o: {
        name: {"target": o.balanced, "target_raw": o.balanced, "error_budget_minutes": (1 - o.balanced) * 40320}
        for name in ("conservative", "balanced", "aggressive")
    })
    explanation = factory.LazyAttribute(lambda o: {
        "summary": "", "observed_availability": o.observed, "feature_attributions": [],
        "dependency_impact": {"composite_availability_bound": 1.0, "bottleneck_service": None,
                              "dependencies": o.dependencies},
    })
    data_quality = factory.LazyFunction(dict)
    generated_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=24))
    lookback_window_start = factory.LazyFunction(lambda: timezone.now() - timedelta(days=30))
    lookback_window_end = factory.LazyFunction(timezone.now)
