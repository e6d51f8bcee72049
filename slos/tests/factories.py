from datetime import timedelta

import factory
from django.utils import timezone

from graph.tests.factories import ServiceFactory
from recommendations.models import SloRecommendation
from slos.models import ServiceLevelObjective, SloChange, SloStatus


def availability_tiers(conservative=0.99, balanced=0.995, aggressive=0.999) -> dict:
    def tier(target):
        return {
            "target": target, "target_raw": target + 0.0004, "estimated_breach_probability": 0.05,
            "historical_breach_rate": None, "historical_breaches": None, "historical_windows": None,
            "confidence_interval": [target - 0.001, min(target + 0.001, 1.0)],
            "error_budget_minutes": round((1 - target) * 28 * 24 * 60, 1),
        }
    return {"conservative": tier(conservative), "balanced": tier(balanced), "aggressive": tier(aggressive)}


def latency_tiers(conservative=800.0, balanced=500.0, aggressive=250.0) -> dict:
    def tier(threshold):
        return {"percentile": 99, "threshold_ms": threshold, "target": 0.99,
                "estimated_breach_probability": 0.05, "confidence_interval": [0.985, 0.995]}
    return {"conservative": tier(conservative), "balanced": tier(balanced), "aggressive": tier(aggressive)}


class SloRecommendationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SloRecommendation

    service = factory.SubFactory(ServiceFactory)
    sli_type = "availability"
    metric = "availability"
    window_days = 28
    tiers = factory.LazyFunction(availability_tiers)
    explanation = factory.LazyFunction(lambda: {"summary": "test", "observed_availability": 0.9991})
    data_quality = factory.LazyFunction(lambda: {"completeness": 1.0, "days_with_data": 30, "lookback_days": 30})
    generated_at = factory.LazyFunction(timezone.now)
    lookback_window_end = factory.LazyAttribute(lambda o: o.generated_at)
    lookback_window_start = factory.LazyAttribute(lambda o: o.generated_at - timedelta(days=30))
    expires_at = factory.LazyAttribute(lambda o: o.generated_at + timedelta(hours=24))
    status = "active"


class SloFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceLevelObjective

    service = factory.SubFactory(ServiceFactory)
    sli_type = "availability"
    metric = "availability"
    target = 0.995
    threshold_ms = None
    window_days = 28
    origin = "balanced"
    state = "active"
    version = 1
    created_by = "factory"


class SloChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SloChange

    service = factory.LazyAttribute(lambda o: o.slo.service)
    slo = factory.SubFactory(SloFactory)
    action = "accept"
    actor = "factory"
    rationale = ""
    before = None
    after = factory.LazyAttribute(lambda o: {"target": o.slo.target})


class SloStatusFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SloStatus

    slo = factory.SubFactory(SloFactory)
    computed_at = factory.LazyFunction(timezone.now)
    window_availability = 0.998
    budget_total = 0.005
    budget_consumed = 0.4
    budget_remaining = 0.6
    burn_rates = factory.LazyFunction(lambda: {"1h": 0.5, "6h": 0.5, "1d": 0.5, "3d": 0.5})
    health = "healthy"
