"""SLO recommendations (DESIGN.md sections 4 and 9)."""

from django.db import models
from django.db.models import Q

from graph.models import Service, TimestampedModel, choices_check


class RecommendationSliType(models.TextChoices):
    AVAILABILITY = "availability"
    LATENCY = "latency"


class RecommendationStatus(models.TextChoices):
    ACTIVE = "active"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"


class SloRecommendation(TimestampedModel):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="slo_recommendations")
    sli_type = models.CharField(max_length=16, choices=RecommendationSliType.choices)
    metric = models.CharField(max_length=32)
    window_days = models.PositiveSmallIntegerField(default=28)
    tiers = models.JSONField(default=dict)
    explanation = models.JSONField(default=dict)
    data_quality = models.JSONField(default=dict)
    lookback_window_start = models.DateTimeField()
    lookback_window_end = models.DateTimeField()
    generated_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=RecommendationStatus.choices, default=RecommendationStatus.ACTIVE
    )

    class Meta:
        ordering = ["service_id", "sli_type", "-generated_at"]
        constraints = [
            choices_check("sli_type", RecommendationSliType, "recommendation_sli_type_valid"),
            choices_check("status", RecommendationStatus, "recommendation_status_valid"),
            models.CheckConstraint(
                condition=Q(lookback_window_start__lt=models.F("lookback_window_end")),
                name="recommendation_lookback_ordered",
            ),
            models.CheckConstraint(condition=Q(window_days__gt=0), name="recommendation_window_positive"),
            models.UniqueConstraint(
                fields=["service", "sli_type", "metric"],
                condition=Q(status="active"),
                name="recommendation_one_active",
            ),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="recommendation_expiry_idx")]

    def __str__(self) -> str:
        return f"{self.service_id} {self.metric} ({self.status})"


class FleetPrior(TimestampedModel):
    """The fleet prior fitted by the daily batch (DESIGN.md section 9): how
    often this fleet's services have bad days and how bad they are. Every
    generation uses the latest row; without one, the documented default."""

    parameters = models.JSONField(help_text="FleetPriorParams fields (see recommendations/domain/fleet_prior.py)")
    services_used = models.PositiveIntegerField(help_text="Services with data the fit saw")
    is_default = models.BooleanField(default=False, help_text="Fewer services with data than the fit needs")
    fitted_at = models.DateTimeField()

    class Meta:
        ordering = ["-fitted_at"]
        get_latest_by = "fitted_at"
        indexes = [models.Index(fields=["-fitted_at"], name="fleet_prior_fitted_idx")]

    def __str__(self) -> str:
        return f"fleet prior of {self.fitted_at:%Y-%m-%d %H:%M} ({self.services_used} services)"


class RecommendationBacktest(TimestampedModel):
    """One walk-forward backtest run over the stored history (DESIGN.md
    section 9): per tier, pairs, mean stated and realised breach rates and a
    reliability table. The API serves the latest."""

    computed_at = models.DateTimeField()
    window_days = models.PositiveSmallIntegerField()
    step_days = models.PositiveSmallIntegerField()
    lookback_days = models.PositiveSmallIntegerField()
    history_days = models.PositiveSmallIntegerField()
    services = models.PositiveIntegerField()
    tiers = models.JSONField(default=dict)

    class Meta:
        ordering = ["-computed_at"]
        get_latest_by = "computed_at"
        constraints = [models.CheckConstraint(condition=Q(step_days__gt=0), name="backtest_step_positive")]
        indexes = [models.Index(fields=["-computed_at"], name="backtest_computed_idx")]

    def __str__(self) -> str:
        return f"backtest of {self.computed_at:%Y-%m-%d %H:%M} ({self.services} services)"
