"""SLOs-of-record API (DESIGN.md section 13): a service's SLOs and the
decisions on them, its audit trail, the fleet list and the SLO-as-code export."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins
from rest_framework.response import Response

from graph.models import Service
from recommendations.api.views import _IgnoreFormatParameter
from slo_engine.api.errors import Conflict, ProblemError
from slo_engine.api.pagination import StandardPagination
from slo_engine.api.permissions import actor_name, require_write_scope
from slo_engine.api.views import BaseApiView, BaseGenericViewSet, ProblemSerializer, problem_responses
from slos.api.serializers import (
    ServiceSlosQuerySerializer,
    ServiceSlosSerializer,
    SloChangeSerializer,
    SloDecisionSerializer,
    SloExportQuerySerializer,
    SloRetireSerializer,
    SloSerializer,
    SloWithBurnDownSerializer,
)
from slos.exporters import ExportError, export_slos
from slos.filtersets import SloFilterSet
from slos.models import ServiceLevelObjective
from slos.selectors import slo_history, slo_list_active, slos_of_service
from slos.services import (
    DecisionError,
    NothingChanged,
    StaleRecommendation,
    slo_decide,
    slo_retire,
    slo_status_refresh,
)

SERVICE_ID = OpenApiParameter("service_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="Service slug")
SLO_ID = OpenApiParameter("slo_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="SLO id")
TAGS = ["SLOs of record"]


def _service(service_id: str) -> Service:
    return get_object_or_404(Service.objects.active(), service_id=service_id)


def _body(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data if request.data else {})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _decision_problem(exc: DecisionError):
    errors = [{"field": exc.field, "message": str(exc)}]
    if isinstance(exc, StaleRecommendation):
        return ProblemError(409, str(exc), title="Stale recommendation", problem_type="stale-recommendation",
                            errors=errors)
    if isinstance(exc, NothingChanged):
        return ProblemError(422, str(exc), title="Nothing changed", problem_type="nothing-changed", errors=errors)
    return ProblemError(422, str(exc), title="Invalid decision", problem_type="invalid-decision", errors=errors)


class ServiceSlosView(BaseApiView):
    """GET the service's active SLOs; POST a decision on a recommendation."""

    @extend_schema(
        summary="SLOs of record of a service", operation_id="service_slos_list",
        description="The active SLOs of the service, each with its latest status (null until first scored). "
                    "`refresh=true` scores them now from the telemetry source (a write: 403 with a read key).",
        parameters=[SERVICE_ID, ServiceSlosQuerySerializer], responses={200: ServiceSlosSerializer,
                                                                       **problem_responses(403, 404, 422)},
        tags=TAGS,
    )
    def get(self, request, service_id: str):
        service = _service(service_id)
        query = ServiceSlosQuerySerializer.validated(request)
        if query["refresh"]:
            require_write_scope(request, field="refresh", what="refresh=true")
        slos = slos_of_service(service=service)
        if query["refresh"] and slos:
            slo_status_refresh(slos=slos)
            slos = slos_of_service(service=service)
        return Response({"service_id": service.service_id,
                         "slos": SloWithBurnDownSerializer(slos, many=True).data})

    @extend_schema(
        summary="Accept, modify or reject a recommendation",
        description="`accept` commits the tier as is (201), `modify` the tier with the given target, "
                    "threshold_ms or window_days (201; 422 when nothing changes or the target is outside "
                    "0.5-0.99999), `reject` records the refusal (200, the change). A new SLO retires the active "
                    "one of the same metric and takes its version + 1. 409 when the recommendation is not the "
                    "service's active one. Needs a write key.",
        parameters=[SERVICE_ID], request=SloDecisionSerializer,
        responses={201: SloWithBurnDownSerializer, 200: SloChangeSerializer,
                   **problem_responses(400, 403, 404, 422),
                   (409, "application/problem+json"): OpenApiResponse(ProblemSerializer,
                                                                      description="Stale recommendation.")},
        tags=TAGS,
    )
    def post(self, request, service_id: str):
        service = _service(service_id)
        body = _body(SloDecisionSerializer, request)
        try:
            decision = slo_decide(
                service=service, action=body["action"], recommendation_id=body["recommendation_id"],
                tier=body["tier"], actor=actor_name(request), rationale=body["rationale"],
                target=body.get("target"), threshold_ms=body.get("threshold_ms"),
                window_days=body.get("window_days"),
            )
        except DecisionError as exc:
            raise _decision_problem(exc) from None
        if decision.slo is None:
            return Response(SloChangeSerializer(decision.change).data, status=200)
        return Response(SloWithBurnDownSerializer(decision.slo).data, status=201)


class ServiceSloDetailView(BaseApiView):
    """GET one SLO of the service (active or retired); DELETE retires it."""

    def _slo(self, service_id: str, slo_id: int) -> ServiceLevelObjective:
        service = _service(service_id)
        return get_object_or_404(ServiceLevelObjective.objects.select_related("service", "status"),
                                 service=service, pk=slo_id)

    @extend_schema(summary="One SLO of a service", operation_id="service_slo_retrieve",
                   parameters=[SERVICE_ID, SLO_ID],
                   responses={200: SloWithBurnDownSerializer, **problem_responses(404)}, tags=TAGS)
    def get(self, request, service_id: str, slo_id: int):
        return Response(SloWithBurnDownSerializer(self._slo(service_id, slo_id)).data)

    @extend_schema(
        summary="Retire an SLO",
        description="The service then has no SLO of record for that metric. Body `{\"rationale\"}` optional. "
                    "409 when it is already retired. Needs a write key.",
        parameters=[SERVICE_ID, SLO_ID], request=SloRetireSerializer,
        responses={200: SloSerializer, **problem_responses(400, 403, 404, 422),
                   (409, "application/problem+json"): OpenApiResponse(ProblemSerializer,
                                                                      description="Already retired.")},
        tags=TAGS,
    )
    def delete(self, request, service_id: str, slo_id: int):
        slo = self._slo(service_id, slo_id)
        body = _body(SloRetireSerializer, request)
        try:
            decision = slo_retire(slo=slo, actor=actor_name(request), rationale=body["rationale"])
        except DecisionError as exc:
            raise Conflict(str(exc)) from None
        return Response(SloSerializer(decision.slo).data)


class ServiceSloHistoryView(BaseApiView):
    """GET the audit trail of the service, newest first."""

    pagination_class = StandardPagination

    @extend_schema(summary="Audit trail of a service's SLO decisions",
                   parameters=[SERVICE_ID, OpenApiParameter("page", OpenApiTypes.INT, OpenApiParameter.QUERY),
                               OpenApiParameter("page_size", OpenApiTypes.INT, OpenApiParameter.QUERY)],
                   responses={200: SloChangeSerializer(many=True), **problem_responses(404, 422)}, tags=TAGS)
    def get(self, request, service_id: str):
        service = get_object_or_404(Service.objects.all(), service_id=service_id)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(slo_history(service=service), request, view=self)
        return paginator.get_paginated_response(SloChangeSerializer(page, many=True).data)


class SloFleetViewSet(mixins.ListModelMixin, BaseGenericViewSet):
    """The fleet: every active SLO with its status."""

    serializer_class = SloSerializer
    filterset_class = SloFilterSet
    pagination_class = StandardPagination

    def get_queryset(self):
        return slo_list_active()

    @extend_schema(
        summary="The fleet's SLOs of record",
        description="Every active SLO with its status; filters health, team, criticality, review_due; "
                    "ordering budget_remaining or exhaustion_at (- for descending; unscored SLOs last).",
        responses={200: SloSerializer(many=True), **problem_responses(422)}, tags=TAGS,
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


class SloExportView(BaseApiView):
    """GET every active SLO as one YAML bundle."""

    content_negotiation_class = _IgnoreFormatParameter

    @extend_schema(
        summary="Export the fleet's SLOs as code",
        description="OpenSLO v1 SLO documents or Sloth prometheus/v1 specs (multi-document YAML), or one "
                    "Prometheus rule file with a group per SLO (recording rules and multiwindow multi-burn-rate "
                    "alerts; passes `promtool check rules`). `team` limits it to one team's services.",
        parameters=[SloExportQuerySerializer],
        responses={(200, "application/yaml"): OpenApiResponse(OpenApiTypes.STR, description="YAML"),
                   **problem_responses(422)},
        tags=TAGS,
    )
    def get(self, request):
        query = SloExportQuerySerializer.validated(request)
        slos = slo_list_active(filters={"team": query["team"]} if query["team"] else None)
        try:
            text = export_slos(slos, export_format=query["format"])
        except ExportError as exc:
            raise ProblemError(422, str(exc), title="Cannot export", problem_type="export-error",
                               errors=[{"field": exc.field, "message": str(exc)}]) from None
        response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
        # The team is free text: only a slug of it goes into a header.
        suffix = f"-{slugify(query['team'])}" if slugify(query["team"]) else ""
        response["Content-Disposition"] = f'attachment; filename="slos{suffix}.{query["format"]}.yaml"'
        return response
