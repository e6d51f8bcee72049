from datetime import UTC, datetime, timedelta

import factory

from graph.tests.factories import ServiceFactory
from recommendations.models import SloRecommendation

_NOW = datetime(2026, 1, 29, tzinfo=UTC)


class SloRecommendationFactory(factory.django.DjangoModelFactory):
    """An active availability recommendation; `latency=True` traits it as p99
    latency. `observed` (the service's own availability) and `dependencies`
    (the rows of `dependency_impact`) fill the explanation the what-if reads."""

    class Meta:
        model = SloRecommendation

    service = factory.SubFactory(ServiceFactory)
    sli_type = "availability"
    metric = "availability"
    window_days = 28
    tiers = factory.LazyFunction(lambda: {
        name: {"target": target, "estimated_breach_probability": probability}
        for name, target, probability in (("conservative", 0.99, 0.01), ("balanced", 0.995, 0.05),
                                          ("aggressive", 0.999, 0.2))
    })
    lookback_window_start = _NOW - timedelta(days=30)
    lookback_window_end = _NOW
    generated_at = _NOW
    expires_at = factory.LazyFunction(lambda: datetime.now(UTC) + timedelta(hours=24))
    status = "active"
    explanation = factory.LazyAttribute(lambda o: {} if o.observed is None and o.dependencies is None else {
        "summary": "", "observed_availability": o.observed, "feature_attributions": [],
        "dependency_impact": {"composite_availability_bound": 1.0, "bottleneck_service": None,
                              "dependencies": o.dependencies or []},
    })

    class Params:
        observed = None
        dependencies = None
        latency = factory.Trait(
            sli_type="latency",
            metric="latency_p99",
            tiers={"conservative": {"target": 0.99, "threshold_ms": 800.0},
                   "balanced": {"target": 0.99, "threshold_ms": 400.0},
                   "aggressive": {"target": 0.99, "threshold_ms": 200.0}},
        )
