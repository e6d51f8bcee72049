"""Recommendations API: the active recommendations of a service (generated
on demand) and their YAML exports (DESIGN.md sections 5 and 9)."""

from types import SimpleNamespace

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response

from graph.models import Service
from recommendations.api.serializers import (
    ExportQuerySerializer,
    InsufficientDataProblemSerializer,
    RecommendationQuerySerializer,
    ServiceRecommendationsSerializer,
    SloRecommendationSerializer,
)
from recommendations.exporters import export_recommendations
from recommendations.selectors import recommendations_active
from recommendations.services import InsufficientData, recommendations_generate
from slo_engine.api.errors import UnprocessableEntity, problem_body
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


def _insufficient_data(request, exc: InsufficientData) -> Response:
    body = problem_body(status_code=422, detail=str(exc), instance=request.get_full_path(),
                        title="Not enough data for a recommendation", problem_type="insufficient-data",
                        errors=[{"field": "service_id", "message": str(exc)}])
    body["data_quality"] = exc.data_quality
    return Response(body, status=422, content_type=PROBLEM)


def _telemetry_failed(request, exc: TelemetryError) -> Response:
    status_code = 503 if isinstance(exc, TelemetryUnavailable) else 502
    body = problem_body(status_code=status_code, detail=f"Telemetry source failed: {exc}",
                        instance=request.get_full_path())
    return Response(body, status=status_code, content_type=PROBLEM)


def current_recommendations(*, service: Service, force_regenerate: bool) -> list:
    """The active recommendations, (re)generated when forced, when there are
    none, or when any has passed its expiry."""
    active = list(recommendations_active(service=service))
    now = timezone.now()
    if force_regenerate or not active or any(r.expires_at <= now for r in active):
        return recommendations_generate(service=service, now=now)
    return active


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
        service = get_object_or_404(Service.objects.active(), service_id=service_id)
        query = _validated(RecommendationQuerySerializer, request)
        try:
            rows = current_recommendations(service=service, force_regenerate=query["force_regenerate"])
        except InsufficientData as exc:
            return _insufficient_data(request, exc)
        except TelemetryError as exc:
            return _telemetry_failed(request, exc)
        if query.get("sli_type"):
            rows = [r for r in rows if r.sli_type == query["sli_type"]]
        rows.sort(key=lambda r: (r.sli_type, r.metric))
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
        service = get_object_or_404(Service.objects.active(), service_id=service_id)
        query = _validated(ExportQuerySerializer, request)
        try:
            rows = current_recommendations(service=service, force_regenerate=False)
        except InsufficientData as exc:
            return _insufficient_data(request, exc)
        except TelemetryError as exc:
            return _telemetry_failed(request, exc)
        if query.get("sli_type"):
            rows = [r for r in rows if r.sli_type == query["sli_type"]]
        rows.sort(key=lambda r: (r.sli_type, r.metric))
        text = export_recommendations(service, rows, export_format=query["format"], tier=query["tier"])
        response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="{service.service_id}-slo-{query["tier"]}.{query["format"]}.yaml"')
        return response
