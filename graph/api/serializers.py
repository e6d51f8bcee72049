"""Serializers of the graph API. `IngestRequestSerializer` is the one
validation path for every ingestion (API, `ingest_graph`, discovery)."""

from collections.abc import Mapping
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.http import QueryDict
from django.utils import timezone
from rest_framework import serializers

from graph.models import (
    RESERVED_SERVICE_IDS,
    CommunicationMode,
    DependencyCriticality,
    DiscoverySource,
    Service,
    ServiceCriticality,
    ServiceDependency,
)
from graph.queries import DIRECTIONS
from graph.services.ingest import INGEST_MODES

# How far in the future an ingest timestamp may be (clock skew of the sender).
MAX_TIMESTAMP_SKEW = timedelta(minutes=5)


class ServiceIdField(serializers.SlugField):
    """A service_id: a slug of at most 128 characters that is not a reserved word."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 128)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError("A service_id must be a string.")
        value = super().to_internal_value(data)
        if value in RESERVED_SERVICE_IDS:
            raise serializers.ValidationError(f"{value!r} is a reserved word and cannot be a service_id.")
        return value


def reject_null_characters(value) -> None:
    """PostgreSQL cannot store U+0000 in JSON; reject it (keys and strings,
    at any depth) as bad input instead of failing on write."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str) and "\x00" in item:
            raise serializers.ValidationError("Null characters are not allowed.")
        if isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


class IngestNodeSerializer(serializers.Serializer):
    service_id = ServiceIdField()
    display_name = serializers.CharField(max_length=200, allow_blank=True, required=False)
    team = serializers.CharField(max_length=128, allow_null=True, allow_blank=True, required=False)
    criticality = serializers.ChoiceField(choices=ServiceCriticality.choices, required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=100)
    metadata = serializers.DictField(required=False, validators=[reject_null_characters])

    def validate_metadata(self, value: dict) -> dict:
        # The original service's clients name these in metadata; they must be
        # valid where they stand in for the fields.
        criticality = value.get("criticality")
        if criticality is not None and criticality not in ServiceCriticality.values:
            raise serializers.ValidationError(
                {"criticality": f"{criticality!r} is not one of {ServiceCriticality.values}."}
            )
        for key, limit in (("service_name", 200), ("team", 128)):
            if key in value and value[key] is not None and (not isinstance(value[key], str) or len(value[key]) > limit):
                raise serializers.ValidationError({key: f"Must be a string of at most {limit} characters."})
        return value


class EdgeAttributesSerializer(serializers.Serializer):
    communication_mode = serializers.ChoiceField(choices=CommunicationMode.choices, default=CommunicationMode.SYNC)
    criticality = serializers.ChoiceField(choices=DependencyCriticality.choices, default=DependencyCriticality.HARD)
    protocol = serializers.CharField(max_length=64, allow_blank=True, default="")
    timeout_ms = serializers.IntegerField(min_value=1, max_value=2_147_483_647, allow_null=True, default=None)
    retry_config = serializers.DictField(default=dict, validators=[reject_null_characters])
    confidence_score = serializers.FloatField(min_value=0.0, max_value=1.0, default=1.0)


class IngestEdgeSerializer(serializers.Serializer):
    source = ServiceIdField()
    target = ServiceIdField()
    attributes = EdgeAttributesSerializer(required=False)

    def validate(self, attrs: dict) -> dict:
        if attrs["source"] == attrs["target"]:
            raise serializers.ValidationError({"target": "A service cannot depend on itself (self-loop)."})
        return attrs


class IngestRequestSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=DiscoverySource.choices, default=DiscoverySource.MANUAL)
    mode = serializers.ChoiceField(choices=[(m, m) for m in INGEST_MODES], default="merge")
    timestamp = serializers.DateTimeField(required=False, help_text="When the graph was observed (default now).")
    nodes = IngestNodeSerializer(many=True, required=False)
    edges = IngestEdgeSerializer(many=True, required=False)

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise serializers.ValidationError({"body": ["Expected a JSON object with `nodes` and/or `edges`."]})
        if "nodes" not in data and "edges" not in data:
            raise serializers.ValidationError({"body": ["The request must contain `nodes` and/or `edges`."]})
        # Checked before the items are validated, so an oversized request is
        # turned away cheaply.
        for key, limit in (("nodes", settings.INGEST_MAX_NODES), ("edges", settings.INGEST_MAX_EDGES)):
            items = data.get(key)
            if isinstance(items, list) and len(items) > limit:
                raise serializers.ValidationError(
                    {key: [f"At most {limit} {key} per request (INGEST_MAX_{key.upper()}); got {len(items)}."]}
                )
        return super().to_internal_value(data)

    def validate_timestamp(self, value):
        if value > timezone.now() + MAX_TIMESTAMP_SKEW:
            raise serializers.ValidationError("The timestamp is more than 5 minutes in the future.")
        return value

    def ingest_arguments(self) -> dict:
        """Keyword arguments for `graph_ingest` (besides `actor`)."""
        data = self.validated_data
        return {
            "source": data["source"],
            "mode": data["mode"],
            "observed_at": data.get("timestamp"),
            "nodes": data.get("nodes", []),
            "edges": data.get("edges", []),
        }


class IngestResponseSerializer(serializers.Serializer):
    nodes_upserted = serializers.IntegerField()
    edges_upserted = serializers.IntegerField()
    edges_removed = serializers.IntegerField()
    services_auto_created = serializers.ListField(child=serializers.CharField())
    circular_dependencies_detected = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
    warnings = serializers.ListField(child=serializers.CharField())
    graph_version = serializers.IntegerField()


class ServiceSerializer(serializers.ModelSerializer):
    is_retired = serializers.BooleanField(read_only=True)

    class Meta:
        model = Service
        fields = (
            "id", "service_id", "display_name", "team", "criticality", "tags", "metadata", "discovered",
            "is_retired", "retired_at", "created_by", "updated_by", "created_at", "updated_at",
        )
        read_only_fields = fields


class ServiceUpdateSerializer(serializers.Serializer):
    """PATCH body: the catalog fields an operator may change."""

    display_name = serializers.CharField(max_length=200, allow_blank=True, required=False)
    team = serializers.CharField(max_length=128, allow_null=True, allow_blank=True, required=False)
    criticality = serializers.ChoiceField(choices=ServiceCriticality.choices, required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=100)
    metadata = serializers.DictField(required=False, validators=[reject_null_characters])

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise serializers.ValidationError({"body": ["Expected a JSON object."]})
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({key: ["This field cannot be changed or does not exist."]
                                               for key in unknown})
        return super().to_internal_value(data)


class DependencySerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="service_id", read_only=True)
    target = serializers.SlugRelatedField(slug_field="service_id", read_only=True)

    class Meta:
        model = ServiceDependency
        fields = (
            "id", "source", "target", "discovery_source", "communication_mode", "criticality", "protocol",
            "timeout_ms", "retry_config", "confidence_score", "last_observed_at", "is_stale", "request_rate",
            "failure_ratio", "health_observed_at", "created_at", "updated_at",
        )
        read_only_fields = fields


class SubgraphQuerySerializer(serializers.Serializer):
    direction = serializers.ChoiceField(choices=[(d, d) for d in DIRECTIONS], default="downstream")
    depth = serializers.IntegerField(min_value=1, max_value=10, default=3)
    include_stale = serializers.BooleanField(default=False)
    min_confidence = serializers.FloatField(min_value=0.0, max_value=1.0, default=0.0)


@lru_cache(maxsize=4096)
def _subgraph_query_validated(query_string: str) -> tuple[tuple[str, object], ...]:
    serializer = SubgraphQuerySerializer(data=QueryDict(query_string))
    serializer.is_valid(raise_exception=True)
    return tuple(serializer.validated_data.items())


def subgraph_query_validated(query_string: str) -> dict:
    """The validated subgraph query of a raw query string (raises DRF's
    ValidationError like the serializer). Validation is a pure function of
    the string and the same few queries repeat all day, so results (never
    errors) are remembered per process: building a serializer costs more
    than the cached answer it selects."""
    return dict(_subgraph_query_validated(query_string))


class SubgraphNodeSerializer(serializers.Serializer):
    service_id = serializers.CharField()
    depth = serializers.IntegerField()
    criticality = serializers.CharField()
    team = serializers.CharField(allow_null=True)


class EffectiveEdgeSerializer(serializers.Serializer):
    source = serializers.CharField()
    target = serializers.CharField()
    communication_mode = serializers.CharField()
    criticality = serializers.CharField()
    protocol = serializers.CharField()
    timeout_ms = serializers.IntegerField(allow_null=True)
    confidence_score = serializers.FloatField()
    discovery_sources = serializers.ListField(child=serializers.CharField())
    request_rate = serializers.FloatField(allow_null=True, help_text="Requests per second (service graph or mesh).")
    failure_ratio = serializers.FloatField(
        allow_null=True, help_text="Failed share of the requests, weighted over the records that measured it.")


class SubgraphStatisticsSerializer(serializers.Serializer):
    total_nodes = serializers.IntegerField()
    total_edges = serializers.IntegerField()
    max_depth_reached = serializers.IntegerField()


class SubgraphSerializer(serializers.Serializer):
    service_id = serializers.CharField()
    direction = serializers.CharField()
    depth = serializers.IntegerField()
    nodes = SubgraphNodeSerializer(many=True)
    edges = EffectiveEdgeSerializer(many=True)
    statistics = SubgraphStatisticsSerializer()


class GraphNodeSerializer(serializers.Serializer):
    service_id = serializers.CharField()
    display_name = serializers.CharField()
    team = serializers.CharField(allow_null=True)
    criticality = serializers.CharField()
    discovered = serializers.BooleanField()
    tags = serializers.ListField(child=serializers.CharField())


class GraphQuerySerializer(serializers.Serializer):
    include_stale = serializers.BooleanField(default=False)


class GraphSerializer(serializers.Serializer):
    graph_version = serializers.IntegerField()
    nodes = GraphNodeSerializer(many=True)
    edges = EffectiveEdgeSerializer(many=True)
