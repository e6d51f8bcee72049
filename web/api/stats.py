"""`GET /api/v1/stats`: catalog, graph, alert and recommendation counts.

It counts the rows of several apps (graph must not import recommendations),
so it lives with the pages, which sit on top of every app."""

from django.db.models import Count, Q
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from graph.models import AlertStatus, CircularDependencyAlert, Service, ServiceDependency
from graph.selectors import graph_version_current
from recommendations.models import RecommendationStatus, SloRecommendation
from slo_engine.api.views import BaseApiView, problem_responses


class ServiceStatsSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Active (non-retired) services")
    discovered = serializers.IntegerField(help_text="Active services auto-created by ingestion or discovery")
    retired = serializers.IntegerField()
    by_criticality = serializers.DictField(child=serializers.IntegerField())
    by_team = serializers.DictField(child=serializers.IntegerField(), help_text="Team '' means no team")


class EdgeStatsSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Edge records")
    stale = serializers.IntegerField()
    by_discovery_source = serializers.DictField(child=serializers.IntegerField())


class StatsSerializer(serializers.Serializer):
    graph_version = serializers.IntegerField()
    services = ServiceStatsSerializer()
    edges = EdgeStatsSerializer()
    open_alerts = serializers.IntegerField()
    acknowledged_alerts = serializers.IntegerField()
    active_recommendations = serializers.IntegerField()


def stats_summary() -> dict:
    """All counts, with grouped aggregates (six queries whatever the size)."""
    active = Service.objects.filter(retired_at__isnull=True)
    totals = Service.objects.aggregate(
        total=Count("pk", filter=Q(retired_at__isnull=True)),
        discovered=Count("pk", filter=Q(retired_at__isnull=True, discovered=True)),
        retired=Count("pk", filter=Q(retired_at__isnull=False)),
    )
    by_criticality = dict(active.order_by().values_list("criticality").annotate(n=Count("pk")))
    by_team = {team or "": n for team, n in active.order_by().values_list("team").annotate(n=Count("pk"))}
    by_source = dict(ServiceDependency.objects.order_by().values_list("discovery_source").annotate(n=Count("pk")))
    stale = ServiceDependency.objects.filter(is_stale=True).count()
    alerts = CircularDependencyAlert.objects.aggregate(
        open=Count("pk", filter=Q(status=AlertStatus.OPEN)),
        acknowledged=Count("pk", filter=Q(status=AlertStatus.ACKNOWLEDGED)),
    )
    return {
        "graph_version": graph_version_current(),
        "services": {**totals, "by_criticality": by_criticality, "by_team": dict(sorted(by_team.items()))},
        "edges": {"total": sum(by_source.values()), "stale": stale, "by_discovery_source": by_source},
        "open_alerts": alerts["open"],
        "acknowledged_alerts": alerts["acknowledged"],
        "active_recommendations": SloRecommendation.objects.filter(status=RecommendationStatus.ACTIVE).count(),
    }


class StatsView(BaseApiView):
    @extend_schema(summary="Counts over the catalog, graph, alerts and recommendations",
                   responses={200: StatsSerializer, **problem_responses()})
    def get(self, request):
        return Response(stats_summary())
