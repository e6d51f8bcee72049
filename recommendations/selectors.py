"""Reads of recommendations (keyword-only, no writes)."""

from django.db.models import QuerySet

from graph.models import Service
from recommendations.models import FleetPrior, RecommendationBacktest, RecommendationStatus, SloRecommendation


def recommendations_active(*, service: Service, sli_type: str | None = None) -> QuerySet[SloRecommendation]:
    """The active recommendations of `service` (availability before latency),
    optionally of one SLI type. Expired-but-unswept rows are included: check
    `expires_at` to decide whether to regenerate."""
    queryset = SloRecommendation.objects.filter(service=service, status=RecommendationStatus.ACTIVE)
    if sli_type:
        queryset = queryset.filter(sli_type=sli_type)
    return queryset.select_related("service").order_by("sli_type", "metric")


def fleet_prior_current() -> FleetPrior | None:
    """The latest fitted fleet prior, or None before the first fit."""
    return FleetPrior.objects.order_by("-fitted_at").first()


def backtest_latest() -> RecommendationBacktest | None:
    """The latest backtest run, or None before the first."""
    return RecommendationBacktest.objects.order_by("-computed_at").first()
