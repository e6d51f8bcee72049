"""Recommendations API: the active recommendations of a service (generated
on demand) and their YAML exports (DESIGN.md sections 5 and 9)."""

from types import SimpleNamespace

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response

from graph.models import Service
from recommendations.api.serializers import (
    CalibrationSerializer,
    ExportQuerySerializer,
    InsufficientDataProblemSerializer,
    RecommendationQuerySerializer,
    ServiceRecommendationsSerializer,
    SloRecommendationSerializer,
)
from recommendations.exporters import ExportError, export_recommendations
from recommendations.selectors import backtest_latest
from recommendations.services import InsufficientData, recommendations_current
from slo_engine.api.errors import ProblemError, UnprocessableEntity
from slo_engine.api.views import BaseApiView, ProblemSerializer, problem_responses
from telemetry.sources import TelemetryError, TelemetryUnavailable

SERVICE_ID = OpenApiParameter("service_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="Service slug")
PROBLEM = "application/problem+json"
_ERROR_RESPONSES = {
    **problem_responses(404),
    (502, PROBLEM): OpenApiResponse(ProblemSerializer, description="The telemetry source rejected a query."),
    (503, PROBLEM): OpenApiResponse(ProblemSerializer, description="The telemetry source is unreachable."),
}


def _validated(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.query_params)
    if not serializer.is_valid():
        raise UnprocessableEntity(serializer.errors)
    return serializer.validated_data


def _current_rows(request, service_id: str, query_serializer) -> tuple[Service, dict, list]:
    """(service, validated query, its active recommendations sorted by SLI),
    what both views serve. Not enough data is a 422 problem carrying the
    data-quality facts; a failing telemetry source is 503 (unreachable) or
    502 (query rejected)."""
    service = get_object_or_404(Service.objects.active(), service_id=service_id)
    query = _validated(query_serializer, request)
    try:
        rows = recommendations_current(service=service, force_regenerate=query.get("force_regenerate", False))
    except InsufficientData as exc:
        raise ProblemError(
            422, str(exc), title="Not enough data for a recommendation", problem_type="insufficient-data",
            errors=[{"field": "service_id", "message": str(exc)}], extra={"data_quality": exc.data_quality},
        ) from None
    except TelemetryError as exc:
        status_code = 503 if isinstance(exc, TelemetryUnavailable) else 502
        raise ProblemError(status_code, f"Telemetry source failed: {exc}") from None
    if query.get("sli_type"):
        rows = [r for r in rows if r.sli_type == query["sli_type"]]
    rows.sort(key=lambda r: (r.sli_type, r.metric))
    return service, query, rows


class ServiceRecommendationsView(BaseApiView):
    """GET the SLO recommendations of one service."""

    @extend_schema(
        summary="SLO recommendations of a service",
        description="Active recommendations (availability and latency p99), generated when there are none or "
                    "they expired; `force_regenerate=true` recomputes now. 422 with the data-quality facts "
                    "when there are fewer than 7 days of data.",
        parameters=[SERVICE_ID, RecommendationQuerySerializer],
        responses={200: ServiceRecommendationsSerializer,
                   (422, PROBLEM): OpenApiResponse(InsufficientDataProblemSerializer,
                                        description="Bad query parameter, or not enough data."),
                   **_ERROR_RESPONSES},
    )
    def get(self, request, service_id: str):
        service, _, rows = _current_rows(request, service_id, RecommendationQuerySerializer)
        return Response({"service_id": service.service_id,
                         "recommendations": SloRecommendationSerializer(rows, many=True).data})


class _IgnoreFormatParameter(DefaultContentNegotiation):
    # `?format=` names the export format here, not a DRF renderer.
    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)


class ServiceRecommendationsExportView(BaseApiView):
    """GET the active recommendations as OpenSLO, Sloth or Prometheus YAML."""

    content_negotiation_class = _IgnoreFormatParameter

    @extend_schema(
        summary="Export SLO recommendations as YAML",
        description="OpenSLO v1 SLO documents, a Sloth prometheus/v1 spec, or Prometheus multiwindow "
                    "multi-burn-rate alert rules for the chosen tier (default balanced).",
        parameters=[SERVICE_ID, ExportQuerySerializer],
        responses={(200, "application/yaml"): OpenApiResponse(OpenApiTypes.STR, description="YAML document(s)"),
                   (422, PROBLEM): OpenApiResponse(InsufficientDataProblemSerializer,
                                        description="Unknown format or tier, or not enough data."),
                   **_ERROR_RESPONSES},
    )
    def get(self, request, service_id: str):
        service, query, rows = _current_rows(request, service_id, ExportQuerySerializer)
        try:
            text = export_recommendations(service, rows, export_format=query["format"], tier=query["tier"])
        except ExportError as exc:
            raise ProblemError(422, str(exc), title="Cannot export", errors=[{"field": exc.field,
                                                                               "message": str(exc)}]) from None
        response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="{service.service_id}-slo-{query["tier"]}.{query["format"]}.yaml"')
        return response


class RecommendationCalibrationView(BaseApiView):
    """GET the latest walk-forward backtest of the recommendations."""

    @extend_schema(
        summary="Calibration of the recommendations (walk-forward backtest)",
        description="The last backtest run (the daily batch refreshes it; `manage.py backtest_recommendations` "
                    "runs one now): per tier, the (service, window) pairs, the mean stated breach probability, "
                    "the realised breach rate and a reliability table. 404 before the first run.",
        responses={200: CalibrationSerializer, **problem_responses(404)},
    )
    def get(self, request):
        backtest = backtest_latest()
        if backtest is None:
            raise ProblemError(404, "No backtest has run yet: the daily recommendation batch runs one, or run "
                                    "`manage.py backtest_recommendations`.", title="No backtest yet")
        return Response(CalibrationSerializer(backtest).data)
