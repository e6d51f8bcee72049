"""What-if API (DESIGN.md section 14): the constraint analysis of a target
and the impact analysis of a degradation. Both only read, so a read key
suffices, the POST included."""


from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from graph.domain.whatif import TARGET_MAX, TARGET_MIN_EXCLUSIVE
from graph.selectors import ServiceNotFound
from slo_engine.api.errors import UnprocessableEntity
from slo_engine.api.serializers import QuerySerializer, StrictSerializer
from slo_engine.api.views import BaseApiView, problem_responses
from slos.whatif import slo_target_of_record, whatif_constraint_analysis, whatif_impact_analysis

MAX_DEPTH = 10


def _check_target(value: float) -> float:
    if not TARGET_MIN_EXCLUSIVE < value <= TARGET_MAX:
        raise serializers.ValidationError(f"must be above {TARGET_MIN_EXCLUSIVE} and at most {TARGET_MAX}.")
    return value


class ConstraintQuerySerializer(QuerySerializer):
    target = serializers.FloatField(
        required=False, validators=[_check_target],
        help_text=f"Availability target in ({TARGET_MIN_EXCLUSIVE}, {TARGET_MAX}]; default: the service's "
                  "availability SLO of record.")
    window_days = serializers.IntegerField(
        required=False, min_value=1, max_value=366, help_text="SLO window for the own budget (default 28).")


class DependencyRequirementSerializer(serializers.Serializer):
    service_id = serializers.CharField(help_text="The dependency, or the weakest member of a cycle of them.")
    members = serializers.ListField(child=serializers.CharField(), help_text="All services of this unit.")
    depth = serializers.IntegerField(help_text="Fewest hard sync hops from the service.")
    availability = serializers.FloatField(allow_null=True)
    availability_basis = serializers.ChoiceField(choices=["edge", "service"], allow_null=True)
    required_availability = serializers.FloatField(help_text="1 - (1 - target) / (N + 1).")
    extra_nine_availability = serializers.FloatField(help_text="1 - (1 - target) / 10.")
    meets_required = serializers.BooleanField(allow_null=True)
    slo_target = serializers.FloatField(allow_null=True)


class ConstraintAnalysisSerializer(serializers.Serializer):
    service_id = serializers.CharField()
    target = serializers.FloatField()
    window_days = serializers.IntegerField()
    dependency_bound = serializers.FloatField()
    achievable = serializers.BooleanField()
    own_budget_minutes = serializers.FloatField()
    dependencies = DependencyRequirementSerializer(many=True)
    warnings = serializers.ListField(child=serializers.CharField())


class ImpactRequestSerializer(StrictSerializer):
    service_id = serializers.CharField(max_length=128)
    availability = serializers.FloatField(min_value=0.0, max_value=1.0,
                                          help_text="The availability the service is assumed to run at, 0-1.")
    max_depth = serializers.IntegerField(required=False, default=MAX_DEPTH, min_value=1, max_value=MAX_DEPTH)


class ImpactedServiceSerializer(serializers.Serializer):
    service_id = serializers.CharField()
    depth = serializers.IntegerField()
    current_bound = serializers.FloatField()
    projected_bound = serializers.FloatField()
    delta = serializers.FloatField()
    slo_target = serializers.FloatField(allow_null=True)
    slo_at_risk = serializers.BooleanField()


class ImpactSummarySerializer(serializers.Serializer):
    impacted = serializers.IntegerField()
    at_risk = serializers.IntegerField()
    at_risk_already = serializers.IntegerField(help_text="SLOs of record already above the current bound.")


class ImpactAnalysisSerializer(serializers.Serializer):
    service_id = serializers.CharField()
    availability = serializers.FloatField()
    current_availability = serializers.FloatField(allow_null=True)
    max_depth = serializers.IntegerField()
    impacted = ImpactedServiceSerializer(many=True)
    summary = ImpactSummarySerializer()


class AnyValidKey(permissions.BasePermission):
    """Any valid key (or a logged-in session): the POST of an analysis writes nothing."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)


def _not_found(service_id: str) -> NotFound:
    return NotFound(f"No active service '{service_id}'.")


class ConstraintAnalysisView(BaseApiView):
    @extend_schema(
        summary="What a target requires of the dependencies",
        description="The bound the unique hard sync dependencies set (cycles as one unit at their weakest "
                    "member), whether `target` is achievable, the own-outage budget in minutes of the window, "
                    "and per dependency its availability, the equal-split and extra-nine requirements and its "
                    "SLO of record. Nothing is written.",
        parameters=[OpenApiParameter("service_id", OpenApiTypes.STR, OpenApiParameter.PATH),
                    ConstraintQuerySerializer],
        responses={200: ConstraintAnalysisSerializer, **problem_responses(404, 422)},
    )
    def get(self, request, service_id: str):
        query = ConstraintQuerySerializer.validated(request)
        target = query.get("target")
        window_days = query.get("window_days") or settings.SLO_WINDOW_DAYS
        try:
            if target is None:
                target = slo_target_of_record(service_id=service_id)
                if target is None:
                    raise UnprocessableEntity(
                        {"target": ["Required: the service has no availability SLO of record to default to."]})
            body = whatif_constraint_analysis(service_id=service_id, target=target, window_days=window_days)
        except ServiceNotFound:
            raise _not_found(service_id) from None
        except ValueError as exc:  # an SLO of record outside the analysable range
            raise UnprocessableEntity({"target": [str(exc)]}) from None
        return Response(body)


class ImpactAnalysisView(BaseApiView):
    permission_classes = [AnyValidKey]

    @extend_schema(
        summary="What a degradation does upstream",
        description="Every service that depends on `service_id` through hard sync edges (transitively, within "
                    "`max_depth`), with its dependency bound now and were the service to run at `availability`, "
                    "its SLO of record and whether that SLO is then above the bound; most harmed first. "
                    "A read: nothing is written, a read key suffices.",
        request=ImpactRequestSerializer,
        responses={200: ImpactAnalysisSerializer, **problem_responses(400, 404, 422)},
    )
    def post(self, request):
        payload = ImpactRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            body = whatif_impact_analysis(service_id=data["service_id"], availability=data["availability"],
                                          max_depth=data["max_depth"])
        except ServiceNotFound:
            raise _not_found(data["service_id"]) from None
        return Response(body)
