"""Serializers of the recommendations API (DESIGN.md section 5)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from recommendations.exporters import EXPORT_FORMATS, TIERS
from recommendations.models import RecommendationBacktest, RecommendationSliType, SloRecommendation
from slo_engine.api.serializers import QueryBooleanField, QuerySerializer
from slo_engine.api.views import ProblemSerializer


class RecommendationQuerySerializer(QuerySerializer):
    sli_type = serializers.ChoiceField(choices=RecommendationSliType.choices, required=False)
    force_regenerate = QueryBooleanField(required=False, default=False, help_text=(
        "Recompute and store now; a write, so it needs a key with the 'write' scope (403 otherwise)."))


class ExportQuerySerializer(QuerySerializer):
    format = serializers.ChoiceField(choices=EXPORT_FORMATS)
    tier = serializers.ChoiceField(choices=TIERS, required=False, default="balanced")
    sli_type = serializers.ChoiceField(choices=RecommendationSliType.choices, required=False)


class TierSerializer(serializers.Serializer):
    """An availability tier, or (with percentile/threshold_ms) a latency tier."""

    target = serializers.FloatField()
    target_raw = serializers.FloatField(required=False)
    estimated_breach_probability = serializers.FloatField()
    historical_breach_rate = serializers.FloatField(required=False, allow_null=True)
    historical_breaches = serializers.IntegerField(required=False)
    historical_windows = serializers.IntegerField(required=False)
    confidence_interval = serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2)
    error_budget_minutes = serializers.FloatField(required=False)
    percentile = serializers.FloatField(required=False)
    threshold_ms = serializers.FloatField(required=False)


class TiersSerializer(serializers.Serializer):
    conservative = TierSerializer()
    balanced = TierSerializer()
    aggressive = TierSerializer()


class AttributionSerializer(serializers.Serializer):
    feature = serializers.ChoiceField(
        choices=["variance", "data_quality_margin", "fleet_prior", "rounding", "dependency_cap"])
    contribution = serializers.FloatField()
    description = serializers.CharField()


class DependencyShareSerializer(serializers.Serializer):
    service_id = serializers.CharField()
    availability = serializers.FloatField(allow_null=True)
    budget_share = serializers.FloatField(allow_null=True)
    availability_basis = serializers.ChoiceField(
        choices=["edge", "service"], allow_null=True,
        help_text="edge: this service's own calls to the dependency (service graph); service: the "
                  "dependency's own availability; null without data.")
    flags = serializers.ListField(child=serializers.ChoiceField(
        choices=["over_half_of_budget", "missing_extra_nine", "failures_absorbed", "no_data"]))


class DependencyImpactSerializer(serializers.Serializer):
    composite_availability_bound = serializers.FloatField()
    bottleneck_service = serializers.CharField(allow_null=True)
    binding = serializers.BooleanField(
        help_text="True when the bound caps the tiers; false when the service did better than the bound "
                  "(its dependencies' failures are absorbed) or there is no bound.")
    absorbed_failure_share = serializers.FloatField(
        allow_null=True, help_text="1 - (1 - observed) / (1 - bound) when the bound does not bind; else null.")
    dependencies = DependencyShareSerializer(many=True)


class FleetPriorUsedSerializer(serializers.Serializer):
    incident_chance = serializers.FloatField(help_text="The fleet's mean daily chance of a bad day.")
    services = serializers.IntegerField(help_text="Services the prior was fitted on (0: the default prior).")
    incidents_seen = serializers.IntegerField(help_text="Bad days in this service's own history.")


class TimeoutWarningSerializer(serializers.Serializer):
    service_id = serializers.CharField()
    timeout_ms = serializers.IntegerField()
    p99_ms = serializers.FloatField()
    days_over = serializers.IntegerField()
    message = serializers.CharField()


class ExplanationSerializer(serializers.Serializer):
    """Availability: observed_availability, feature_attributions and
    dependency_impact; latency: percentile and dependency timeout warnings."""

    summary = serializers.CharField()
    observed_availability = serializers.FloatField(required=False)
    feature_attributions = AttributionSerializer(many=True, required=False)
    fleet_prior = FleetPriorUsedSerializer(required=False)
    dependency_impact = DependencyImpactSerializer(required=False)
    percentile = serializers.FloatField(required=False)
    warnings = TimeoutWarningSerializer(many=True, required=False)


class DataQualitySerializer(serializers.Serializer):
    completeness = serializers.FloatField()
    days_with_data = serializers.IntegerField()
    lookback_days = serializers.IntegerField()
    is_cold_start = serializers.BooleanField()
    sample_count = serializers.IntegerField()
    low_traffic = serializers.BooleanField()
    rejected_points = serializers.IntegerField()


@extend_schema_field(TiersSerializer)
class TiersField(serializers.JSONField):
    pass


@extend_schema_field(ExplanationSerializer)
class ExplanationField(serializers.JSONField):
    pass


@extend_schema_field(DataQualitySerializer)
class DataQualityField(serializers.JSONField):
    pass


class SloRecommendationSerializer(serializers.ModelSerializer):
    tiers = TiersField()
    explanation = ExplanationField()
    data_quality = DataQualityField()

    class Meta:
        model = SloRecommendation
        fields = ["id", "sli_type", "metric", "window_days", "status", "generated_at", "expires_at",
                  "lookback_window_start", "lookback_window_end", "tiers", "explanation", "data_quality"]


class ServiceRecommendationsSerializer(serializers.Serializer):
    service_id = serializers.CharField()
    recommendations = SloRecommendationSerializer(many=True)


class InsufficientDataProblemSerializer(ProblemSerializer):
    """422 problem+json when there is not enough data, with the facts."""

    # Absent when the 422 is a bad query parameter rather than too little data.
    data_quality = DataQualitySerializer(required=False)


class ReliabilityBinSerializer(serializers.Serializer):
    stated_lo = serializers.FloatField()
    stated_hi = serializers.FloatField()
    pairs = serializers.IntegerField()
    mean_stated_probability = serializers.FloatField()
    realised_breach_rate = serializers.FloatField()


class BacktestTierSerializer(serializers.Serializer):
    pairs = serializers.IntegerField()
    mean_stated_probability = serializers.FloatField(allow_null=True)
    realised_breach_rate = serializers.FloatField(allow_null=True)
    reliability = ReliabilityBinSerializer(many=True)


class BacktestTiersSerializer(serializers.Serializer):
    conservative = BacktestTierSerializer()
    balanced = BacktestTierSerializer()
    aggressive = BacktestTierSerializer()


@extend_schema_field(BacktestTiersSerializer)
class BacktestTiersField(serializers.JSONField):
    pass


class CalibrationSerializer(serializers.ModelSerializer):
    """The latest walk-forward backtest (DESIGN.md section 9)."""

    tiers = BacktestTiersField()

    class Meta:
        model = RecommendationBacktest
        fields = ["computed_at", "window_days", "step_days", "lookback_days", "history_days", "services", "tiers"]
