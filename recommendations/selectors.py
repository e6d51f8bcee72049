"""Reads of recommendations (keyword-only, no writes)."""

from django.db.models import Count, F, Max, QuerySet, Window
from django.db.models.functions import RowNumber

from graph.domain.whatif import Availabilities
from graph.models import Service
from recommendations.models import (
    FleetPrior,
    RecommendationBacktest,
    RecommendationSliType,
    RecommendationStatus,
    SloRecommendation,
)
from recommendations.queries import availability_edge_basis, availability_observed
from slo_engine.cache_local import cache_get_or_build
from telemetry.models import SliAggregate, SliType, TimeWindow


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


def dependency_availabilities() -> Availabilities:
    """The availabilities the dependency ceiling multiplies, as the
    recommendations last measured them, for the what-if analyses. Three
    queries, however many services.

    * service basis: a service's own availability over its recommendation's
      lookback (the active availability recommendation's
      `observed_availability`, the good/total the ceiling of its callers
      uses); for a service without one, its latest 28-day SLI aggregate;
    * edge basis: what a caller's active recommendation lists for a
      dependency with `availability_basis: "edge"` (its own calls to it).
    """
    service = {name: float(observed) for name, observed in availability_observed() if observed is not None}
    edge = {(caller, dependency): float(value) for caller, dependency, value in availability_edge_basis()}

    # Only services without an active recommendation need an aggregate: the
    # window then runs over their rows alone (sli_aggregate_latest_idx), not
    # over every hourly row the retention keeps for the fleet.
    with_recommendation = SloRecommendation.objects.filter(
        status=RecommendationStatus.ACTIVE, sli_type=RecommendationSliType.AVAILABILITY).values("service_id")
    aggregates = SliAggregate.objects.filter(
        sli_type=SliType.AVAILABILITY, time_window=TimeWindow.FOUR_WEEKS).exclude(service_id__in=with_recommendation)
    latest = aggregates.annotate(
        rank=Window(RowNumber(), partition_by=[F("service_id")], order_by=F("computed_at").desc())
    ).filter(rank=1).values_list("service__service_id", "value")
    for name, value in latest:
        service.setdefault(name, float(value))
    return Availabilities(service=service, edge=edge)


# The fleet's availabilities change when recommendations are generated,
# superseded or expire, or SLI aggregates arrive: the cache entry is keyed on
# a fingerprint of exactly that, so it is never stale; the expiry only
# bounds the memory of fingerprints no longer current.
AVAILABILITIES_CACHE_SECONDS = 600


def dependency_availabilities_fleet_key() -> str:
    """The cache key of the fleet's availabilities: a fingerprint of what
    they are read from, i.e. the count and last update of the active
    availability recommendations and the newest 28-day availability
    aggregate (its id: the primary key index answers MAX at once). Two
    aggregate queries."""
    recommendations = SloRecommendation.objects.filter(
        status=RecommendationStatus.ACTIVE, sli_type=RecommendationSliType.AVAILABILITY,
    ).aggregate(count=Count("id"), last=Max("updated_at"))
    newest_aggregate = SliAggregate.objects.filter(
        sli_type=SliType.AVAILABILITY, time_window=TimeWindow.FOUR_WEEKS).aggregate(last=Max("id"))["last"]
    last = recommendations["last"].isoformat() if recommendations["last"] else "-"
    return f"recommendations:availabilities:{recommendations['count']}:{last}:{newest_aggregate}"


def dependency_availabilities_fleet() -> Availabilities:
    """`dependency_availabilities()` of every service, cached under
    `dependency_availabilities_fleet_key()`: the fingerprint's two aggregate
    queries on a hit instead of reading every recommendation, and decoded
    once per process (`slo_engine.cache_local`)."""
    return cache_get_or_build(
        dependency_availabilities_fleet_key(), dependency_availabilities, AVAILABILITIES_CACHE_SECONDS)
