"""Circular-dependency alert API (DESIGN.md section 5): list, retrieve,
acknowledge, resolve. Transitions go through graph.services.alerts; an
illegal one (e.g. acknowledging a resolved alert) is a 409 problem."""

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from graph.models import AlertStatus, CircularDependencyAlert
from graph.services.alerts import AlertTransitionError, alert_acknowledge, alert_resolve, alerts_involving_service
from graph.services.cycles import cycle_detection_summary
from slo_engine.api.errors import Conflict
from slo_engine.api.filters import IntegerFilter
from slo_engine.api.pagination import StandardPagination
from slo_engine.api.permissions import actor_name
from slo_engine.api.serializers import StrictSerializer
from slo_engine.api.views import BaseGenericViewSet, problem_responses


class CircularDependencyAlertSerializer(serializers.ModelSerializer):
    cycle_path = serializers.ListField(child=serializers.CharField(), read_only=True,
                                       help_text="Service ids of the cycle, starting at the smallest; "
                                                 "the first is not repeated at the end.")
    cycle_display = serializers.CharField(read_only=True, help_text='e.g. "a → b → c → a"')
    cycle_length = serializers.SerializerMethodField()

    class Meta:
        model = CircularDependencyAlert
        fields = (
            "id", "cycle_path", "cycle_display", "cycle_length", "status", "scc_size",
            "detected_at", "last_seen_at",
            "acknowledged_by", "acknowledged_at", "acknowledgement_notes",
            "resolved_by", "resolved_at", "resolution_notes",
            "reopened_at", "reopen_count", "created_at", "updated_at",
        )
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.INT)
    def get_cycle_length(self, alert: CircularDependencyAlert) -> int:
        return len(alert.cycle_path or [])


class AcknowledgeSerializer(StrictSerializer):
    acknowledged_by = serializers.CharField(
        required=False, allow_blank=True, max_length=150,
        help_text="Who takes the alert; defaults to the API key or user making the request.",
    )
    notes = serializers.CharField(required=False, allow_blank=True, max_length=10_000, default="")


class ResolveSerializer(StrictSerializer):
    resolution_notes = serializers.CharField(required=False, allow_blank=True, max_length=10_000, default="")


class TruncatedComponentSerializer(serializers.Serializer):
    size = serializers.IntegerField(help_text="Services in the strongly connected component.")
    listed = serializers.IntegerField(help_text="Cycles listed as alerts; the component holds more.")
    services = serializers.ListField(child=serializers.CharField(), help_text="Up to 20 member service ids.")


class CircularDependencyAlertFilterSet(django_filters.FilterSet):
    """One filter set for the API list; the admin reuses `alerts_involving_service`."""

    status = django_filters.ChoiceFilter(choices=AlertStatus.choices)
    service = django_filters.CharFilter(method="filter_service", label="service_id on the cycle")
    scc_size_min = IntegerFilter(field_name="scc_size", lookup_expr="gte")
    scc_size_max = IntegerFilter(field_name="scc_size", lookup_expr="lte")

    class Meta:
        model = CircularDependencyAlert
        fields = ("status", "service", "scc_size_min", "scc_size_max")

    def filter_service(self, queryset, name, value):
        return alerts_involving_service(queryset=queryset, service_id=value)


class AlertPagination(StandardPagination):
    """The standard page plus `truncated_sccs`: components where the last
    detection listed only the first CYCLE_MAX_PER_SCC cycles (more exist)."""

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        summary = cycle_detection_summary() or {}
        response.data["truncated_sccs"] = summary.get("truncated_sccs", [])
        return response

    def get_paginated_response_schema(self, schema):
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"]["truncated_sccs"] = {
            "type": "array",
            "description": "Components whose cycles were capped at the last detection: more cycles exist "
                           "than the alerts list.",
            "items": {
                "type": "object",
                "properties": {
                    "size": {"type": "integer"},
                    "listed": {"type": "integer"},
                    "services": {"type": "array", "items": {"type": "string"}},
                },
            },
        }
        return paginated


@extend_schema_view(
    list=extend_schema(
        summary="List circular-dependency alerts",
        description="Newest first (by last detection). Filter by `status`, by a `service` on the cycle, or by "
                    "the size of the strongly connected component.",
        tags=["circular dependencies"],
        responses={200: CircularDependencyAlertSerializer(many=True), **problem_responses(422)},
    ),
    retrieve=extend_schema(
        summary="One circular-dependency alert", tags=["circular dependencies"], responses={
            200: CircularDependencyAlertSerializer, **problem_responses(404),
        },
    ),
)
class CircularDependencyAlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BaseGenericViewSet):
    queryset = CircularDependencyAlert.objects.all()
    serializer_class = CircularDependencyAlertSerializer
    filterset_class = CircularDependencyAlertFilterSet
    pagination_class = AlertPagination

    @extend_schema(
        summary="Acknowledge an open alert",
        description="Records who took it, when, and their notes. Only an open alert can be acknowledged.",
        request=AcknowledgeSerializer,
        responses={200: CircularDependencyAlertSerializer, **problem_responses(403, 404, 409, 422)},
        tags=["circular dependencies"],
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        alert = self.get_object()
        body = AcknowledgeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        actor = body.validated_data.get("acknowledged_by") or actor_name(request)
        try:
            alert = alert_acknowledge(alert=alert, actor=actor, notes=body.validated_data["notes"])
        except AlertTransitionError as error:
            raise Conflict(str(error)) from error
        return Response(CircularDependencyAlertSerializer(alert).data)

    @extend_schema(
        summary="Resolve an open or acknowledged alert",
        description="Records who resolved it (the API key or user), when, and the notes. If detection still "
                    "finds the cycle, it reopens the alert.",
        request=ResolveSerializer,
        responses={200: CircularDependencyAlertSerializer, **problem_responses(403, 404, 409, 422)},
        tags=["circular dependencies"],
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        alert = self.get_object()
        body = ResolveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            alert = alert_resolve(
                alert=alert, actor=actor_name(request), notes=body.validated_data["resolution_notes"]
            )
        except AlertTransitionError as error:
            raise Conflict(str(error)) from error
        return Response(CircularDependencyAlertSerializer(alert).data)
