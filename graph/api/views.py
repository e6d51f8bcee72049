"""Graph API: catalog, bulk ingestion, subgraph traversal, edge records and
the effective graph (DESIGN.md sections 5 and 6)."""

import hashlib

from django.core.cache import cache
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from graph.api.serializers import (
    DependencySerializer,
    GraphQuerySerializer,
    GraphSerializer,
    IngestRequestSerializer,
    IngestResponseSerializer,
    ServiceSerializer,
    ServiceUpdateSerializer,
    SubgraphQuerySerializer,
    SubgraphSerializer,
    subgraph_query_validated,
)
from graph.filtersets import DependencyFilterSet, ServiceFilterSet
from graph.models import Service, ServiceDependency
from graph.selectors import (
    GRAPH_CACHE_SECONDS,
    ServiceNotFound,
    ServiceRetired,
    graph_map,
    graph_version_current,
    service_subgraph_json,
)
from graph.services.catalog import dependency_delete, service_restore, service_retire, service_update
from graph.services.ingest import graph_ingest
from slo_engine.api.permissions import actor_name
from slo_engine.api.renderers import JSONRenderer, RenderedJSON
from slo_engine.api.throttles import IngestRateThrottle, QueryRateThrottle
from slo_engine.api.views import BaseApiView, BaseGenericViewSet, problem_responses

SERVICE_ID = OpenApiParameter("service_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="Service slug")


@extend_schema_view(
    list=extend_schema(summary="List services", responses={200: ServiceSerializer(many=True),
                                                             **problem_responses(422)}),
    retrieve=extend_schema(summary="One service", parameters=[SERVICE_ID],
                           responses={200: ServiceSerializer, **problem_responses(404)}),
)
class ServiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BaseGenericViewSet):
    """The service catalog. Retired services are hidden from the list unless
    `include_retired=true`, but stay addressable for restore."""

    queryset = Service.objects.all()
    serializer_class = ServiceSerializer
    filterset_class = ServiceFilterSet
    lookup_field = "service_id"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def filter_queryset(self, queryset):
        # Filters (and hiding retired services) apply to the list only; a
        # retired service stays addressable so it can be restored.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def list(self, request, *args, **kwargs):
        # Every write to the catalog bumps the graph version, so a rendered
        # page keyed on the version and the full URL (filters, page, and the
        # host its next/previous links name) is exact until the next write.
        url = hashlib.sha256(request.build_absolute_uri().encode()).hexdigest()
        key = f"graph:services-page:v{graph_version_current()}:{url}"
        body = cache.get(key)
        if body is None:
            body = JSONRenderer().render(super().list(request, *args, **kwargs).data)
            cache.set(key, body, GRAPH_CACHE_SECONDS)
        return Response(RenderedJSON(body))

    def get_throttles(self):
        if self.action == "ingest":
            return [IngestRateThrottle()]
        return [QueryRateThrottle()]

    @extend_schema(
        summary="Change a service's catalog fields", parameters=[SERVICE_ID], request=ServiceUpdateSerializer,
        responses={200: ServiceSerializer, **problem_responses(400, 403, 404, 422)},
    )
    def partial_update(self, request, service_id=None):
        service = self.get_object()
        serializer = ServiceUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        service = service_update(service=service, changes=serializer.validated_data, actor=actor_name(request))
        return Response(ServiceSerializer(service).data)

    @extend_schema(
        summary="Retire a service (soft delete; undo with restore)", parameters=[SERVICE_ID], request=None,
        responses={200: ServiceSerializer, **problem_responses(403, 404)},
    )
    def destroy(self, request, service_id=None):
        service = service_retire(service=self.get_object(), actor=actor_name(request))
        return Response(ServiceSerializer(service).data)

    @extend_schema(
        summary="Restore a retired service", parameters=[SERVICE_ID], request=None,
        responses={200: ServiceSerializer, **problem_responses(403, 404)},
    )
    @action(detail=True, methods=["post"])
    def restore(self, request, service_id=None):
        service = service_restore(service=self.get_object(), actor=actor_name(request))
        return Response(ServiceSerializer(service).data)

    @extend_schema(
        summary="Ingest a dependency graph (bulk upsert, one transaction)",
        request=IngestRequestSerializer,
        responses={200: IngestResponseSerializer, **problem_responses(400, 403, 413, 415, 422)},
    )
    @action(detail=False, methods=["post"], url_path="dependencies", url_name="ingest", filterset_class=None,
            pagination_class=None)
    def ingest(self, request):
        serializer = IngestRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = graph_ingest(**serializer.ingest_arguments(), actor=actor_name(request))
        return Response(IngestResponseSerializer(result.as_dict()).data)

    @extend_schema(
        summary="Upstream/downstream subgraph of a service",
        parameters=[SERVICE_ID, SubgraphQuerySerializer],
        responses={200: SubgraphSerializer, **problem_responses(404, 422)},
    )
    @action(detail=True, methods=["get"], url_path="dependencies", url_name="subgraph", filterset_class=None,
            pagination_class=None)
    def subgraph(self, request, service_id=None):
        query = subgraph_query_validated(request.META.get("QUERY_STRING", ""))
        try:
            return Response(RenderedJSON(service_subgraph_json(service_id=service_id, **query)))
        except ServiceNotFound:
            raise NotFound(f"No service {service_id!r}.") from None
        except ServiceRetired:
            raise NotFound(f"Service {service_id!r} is retired; restore it to query its dependencies.") from None


@extend_schema_view(
    list=extend_schema(summary="List edge records", responses={200: DependencySerializer(many=True),
                                                                **problem_responses(422)}),
    retrieve=extend_schema(summary="One edge record", responses={200: DependencySerializer,
                                                                 **problem_responses(404)}),
    destroy=extend_schema(summary="Remove one edge record", responses={204: None, **problem_responses(403, 404)}),
)
class DependencyViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, BaseGenericViewSet
):
    """Edge records: one per (source, target, discovery_source)."""

    queryset = ServiceDependency.objects.select_related("source", "target").order_by("id")
    serializer_class = DependencySerializer
    filterset_class = DependencyFilterSet
    lookup_value_regex = r"[0-9]+"

    def perform_destroy(self, instance):
        dependency_delete(dependency=instance)


class GraphView(BaseApiView):
    """The whole effective graph for the service map."""

    @extend_schema(
        summary="The effective graph (nodes and edges)", parameters=[GraphQuerySerializer],
        responses={200: GraphSerializer, **problem_responses(422)},
    )
    def get(self, request):
        query = GraphQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(graph_map(**query.validated_data), status=status.HTTP_200_OK)
