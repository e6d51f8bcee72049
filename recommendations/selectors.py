"""Reads of recommendations (keyword-only, no writes)."""

from django.db.models import QuerySet

from graph.models import Service
from recommendations.models import RecommendationStatus, SloRecommendation


def recommendations_active(*, service: Service, sli_type: str | None = None) -> QuerySet[SloRecommendation]:
    """The active recommendations of `service` (availability before latency),
    optionally of one SLI type. Expired-but-unswept rows are included: check
    `expires_at` to decide whether to regenerate."""
    queryset = SloRecommendation.objects.filter(service=service, status=RecommendationStatus.ACTIVE)
    if sli_type:
        queryset = queryset.filter(sli_type=sli_type)
    return queryset.select_related("service").order_by("sli_type", "metric")
