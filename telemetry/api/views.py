"""SLI aggregate API (DESIGN.md section 5):
`GET /api/v1/services/{service_id}/sli-aggregates?sli_type=&time_window=`."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from graph.models import Service
from slo_engine.api.serializers import QuerySerializer
from slo_engine.api.views import BaseApiView, problem_responses
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


class SliAggregateFilterSerializer(QuerySerializer):
    sli_type = serializers.ChoiceField(choices=SliType.choices, required=False, help_text="Only this SLI type.")
    time_window = serializers.ChoiceField(choices=TimeWindow.choices, required=False, help_text="Only this window.")


class SliAggregateListView(BaseApiView):
    """The latest SLI aggregate of each (sli_type, time_window) of a service."""

    @extend_schema(
        operation_id="services_sli_aggregates",
        parameters=[SliAggregateFilterSerializer],
        responses={200: SliAggregateListSerializer, **problem_responses(404, 422)},
        tags=["telemetry"],
    )
    def get(self, request, service_id: str):
        service = get_object_or_404(Service, service_id=service_id)
        filters = SliAggregateFilterSerializer.validated(request)
        rows = sli_aggregates_latest(service=service, **filters)
        return Response({"service_id": service.service_id, "aggregates": SliAggregateSerializer(rows, many=True).data})
