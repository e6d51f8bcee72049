"""Serializers of the SLOs-of-record API (DESIGN.md section 13)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from slo_engine.api.serializers import QueryBooleanField, QuerySerializer, StrictSerializer
from slos.domain.budget import burn_down_points
from slos.exporters import EXPORT_FORMATS
from slos.models import TARGET_MAX, TARGET_MIN, ServiceLevelObjective, SloChange, SloStatus
from slos.services.decisions import TIERS


@extend_schema_field({"type": "object", "properties": {w: {"type": "number", "nullable": True}
                                                       for w in ("1h", "6h", "1d", "3d")}})
class BurnRatesField(serializers.JSONField):
    pass


class FiringConditionSerializer(serializers.Serializer):
    condition = serializers.CharField()
    severity = serializers.ChoiceField(choices=["page", "ticket"])
    long = serializers.CharField()
    short = serializers.CharField()
    threshold = serializers.FloatField()
    long_rate = serializers.FloatField()
    short_rate = serializers.FloatField()


class BurnDownPointSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    budget_remaining = serializers.FloatField()


@extend_schema_field(FiringConditionSerializer(many=True))
class FiringConditionsField(serializers.JSONField):
    pass


@extend_schema_field(BurnDownPointSerializer(many=True))
class BurnDownField(serializers.JSONField):
    """Stored as compact pairs, served as points."""

    def to_representation(self, value):
        return burn_down_points(value)


class SloStatusSerializer(serializers.ModelSerializer):
    burn_rates = BurnRatesField()
    firing_conditions = FiringConditionsField()

    class Meta:
        model = SloStatus
        fields = ["computed_at", "window_start", "window_availability", "total_events", "budget_total",
                  "budget_consumed", "budget_remaining", "budget_total_minutes", "budget_remaining_minutes",
                  "burn_rates", "firing", "firing_conditions", "exhaustion_at", "health", "stale", "error"]
        extra_kwargs = {
            "window_availability": {"help_text": "Availability (latency: share under the threshold) so far in "
                                                 "the rolling window; null without data"},
            "budget_total": {"help_text": "The error budget: the share of the window's events that may be bad "
                                          "(1 - target)"},
            "budget_consumed": {"help_text": "Share of the error budget spent (above 1 when overspent)"},
            "budget_remaining": {"help_text": "Share of the error budget left, 0-1"},
            "budget_total_minutes": {"help_text": "The budget as minutes of total outage over the window"},
            "budget_remaining_minutes": {"help_text": "Minutes of the budget left"},
            "firing": {"help_text": "page, ticket, or null when no multiwindow condition fires"},
            "exhaustion_at": {"help_text": "When the budget runs out at the 1-day burn rate; null when not "
                                           "within the window"},
            "stale": {"help_text": "The telemetry source failed at the last run: this is the previous score"},
        }


class SloStatusWithBurnDownSerializer(SloStatusSerializer):
    burn_down = BurnDownField()

    class Meta(SloStatusSerializer.Meta):
        fields = [*SloStatusSerializer.Meta.fields, "burn_down"]


class SloSerializer(serializers.ModelSerializer):
    service_id = serializers.CharField(source="service.service_id", read_only=True)
    recommendation_id = serializers.IntegerField(allow_null=True, read_only=True)
    status = serializers.SerializerMethodField()

    class Meta:
        model = ServiceLevelObjective
        fields = ["id", "service_id", "sli_type", "metric", "target", "threshold_ms", "window_days", "origin",
                  "recommendation_id", "version", "state", "review_due", "review_reason", "created_at",
                  "created_by", "retired_at", "status"]

    status_serializer = SloStatusSerializer

    @extend_schema_field(SloStatusWithBurnDownSerializer(allow_null=True))
    def get_status(self, slo):
        """The latest score; null until the SLO is first scored (the beat
        task, or `?refresh=true` on the service's SLOs)."""
        # A reverse one-to-one with no row raises an AttributeError subclass.
        status = getattr(slo, "status", None)
        return self.status_serializer(status).data if status is not None else None


class SloWithBurnDownSerializer(SloSerializer):
    status_serializer = SloStatusWithBurnDownSerializer


class ServiceSlosSerializer(serializers.Serializer):
    service_id = serializers.CharField()
    slos = SloWithBurnDownSerializer(many=True)


class SloChangeSerializer(serializers.ModelSerializer):
    service_id = serializers.CharField(source="service.service_id", read_only=True)
    slo_id = serializers.IntegerField(allow_null=True, read_only=True)
    recommendation_id = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = SloChange
        fields = ["id", "service_id", "slo_id", "action", "actor", "rationale", "before", "after",
                  "recommendation_id", "at"]


class SloDecisionSerializer(StrictSerializer):
    """A decision on a recommendation's tier."""

    action = serializers.ChoiceField(choices=["accept", "modify", "reject"])
    recommendation_id = serializers.IntegerField(min_value=1)
    tier = serializers.ChoiceField(choices=TIERS, default="balanced")
    target = serializers.FloatField(required=False, min_value=TARGET_MIN, max_value=TARGET_MAX,
                                    help_text=f"modify only: the committed target, {TARGET_MIN}-{TARGET_MAX}")
    threshold_ms = serializers.FloatField(required=False, min_value=0.001,
                                          help_text="modify only, latency SLOs: the threshold")
    window_days = serializers.IntegerField(required=False, min_value=1, max_value=365,
                                           help_text="modify only: the SLO window")
    rationale = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)

    def validate(self, attrs):
        if attrs["action"] != "modify":
            extra = [name for name in ("target", "threshold_ms", "window_days") if name in attrs]
            if extra:
                raise serializers.ValidationError(
                    {name: f"only a modify takes {name}; {attrs['action']} takes the tier as is" for name in extra})
        return attrs


class SloRetireSerializer(StrictSerializer):
    rationale = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)


class SloExportQuerySerializer(QuerySerializer):
    format = serializers.ChoiceField(choices=EXPORT_FORMATS)
    team = serializers.CharField(required=False, allow_blank=True, default="")


class ServiceSlosQuerySerializer(QuerySerializer):
    refresh = QueryBooleanField(required=False, default=False,
                                help_text="recompute the status of the service's SLOs now (needs a write key)")
