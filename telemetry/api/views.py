"""SLI aggregate API (DESIGN.md section 5):
`GET /api/v1/services/{service_id}/sli-aggregates?sli_type=&time_window=`."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from graph.models import Service
from telemetry.models import SliAggregate, SliType, TimeWindow
from telemetry.selectors import sli_aggregates_latest


class SliAggregateSerializer(serializers.ModelSerializer):
    value = serializers.FloatField(help_text="Availability and error rate are ratios 0-1, latency is in ms, "
                                             "throughput in requests per second.")

    class Meta:
        model = SliAggregate
        fields = ("sli_type", "time_window", "value", "sample_count", "computed_at")
        read_only_fields = fields


class SliAggregateListSerializer(serializers.Serializer):
    service_id = serializers.CharField()
    aggregates = SliAggregateSerializer(many=True)


class SliAggregateFilterSerializer(serializers.Serializer):
    sli_type = serializers.ChoiceField(choices=SliType.choices, required=False)
    time_window = serializers.ChoiceField(choices=TimeWindow.choices, required=False)


class SliAggregateListView(APIView):
    """The latest SLI aggregate of each (sli_type, time_window) of a service."""

    @extend_schema(
        operation_id="services_sli_aggregates",
        parameters=[
            OpenApiParameter("sli_type", str, enum=SliType.values, description="Only this SLI type."),
            OpenApiParameter("time_window", str, enum=TimeWindow.values, description="Only this window."),
        ],
        responses={
            200: SliAggregateListSerializer,
            404: OpenApiResponse(description="Unknown service (application/problem+json)"),
            422: OpenApiResponse(description="Unknown sli_type or time_window (application/problem+json)"),
        },
        tags=["telemetry"],
    )
    def get(self, request, service_id: str):
        service = get_object_or_404(Service, service_id=service_id)
        filters = SliAggregateFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        rows = sli_aggregates_latest(service=service, **filters.validated_data)
        return Response({"service_id": service.service_id, "aggregates": SliAggregateSerializer(rows, many=True).data})
