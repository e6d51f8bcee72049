"""SLOs of record (DESIGN.md section 13).

A recommendation is advice; a `ServiceLevelObjective` is what a team
committed to. `SloChange` is the append-only trail of every decision: the
application never updates or deletes a row, and on PostgreSQL a trigger
refuses it too (migration 0002), except when the whole service is deleted.
"""

from django.db import models
from django.db.models import Q

from graph.models import Service, choices_check
from recommendations.models import SloRecommendation

# Targets a person may commit to (section 13); the database allows (0, 1].
TARGET_MIN = 0.5
TARGET_MAX = 0.99999


class SloSliType(models.TextChoices):
    AVAILABILITY = "availability"
    LATENCY = "latency"


class SloOrigin(models.TextChoices):
    CONSERVATIVE = "conservative"
    BALANCED = "balanced"
    AGGRESSIVE = "aggressive"
    CUSTOM = "custom"


class SloState(models.TextChoices):
    ACTIVE = "active"
    RETIRED = "retired"


class SloAction(models.TextChoices):
    ACCEPT = "accept"
    MODIFY = "modify"
    REJECT = "reject"
    RETIRE = "retire"
    AUTO_APPROVE = "auto_approve"


class SloHealth(models.TextChoices):
    HEALTHY = "healthy"
    WARNING = "warning"
    CRITICAL = "critical"
    EXHAUSTED = "exhausted"
    UNKNOWN = "unknown"


class SloFiring(models.TextChoices):
    PAGE = "page"
    TICKET = "ticket"


class ServiceLevelObjective(models.Model):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="slos")
    sli_type = models.CharField(max_length=16, choices=SloSliType.choices)
    metric = models.CharField(max_length=32)
    target = models.FloatField()
    threshold_ms = models.FloatField(null=True, blank=True)
    window_days = models.PositiveSmallIntegerField(default=28)
    origin = models.CharField(max_length=16, choices=SloOrigin.choices)
    # RESTRICT: a recommendation an SLO came from is kept while the SLO is,
    # unless the whole service goes.
    recommendation = models.ForeignKey(
        SloRecommendation, on_delete=models.RESTRICT, null=True, blank=True, related_name="slos"
    )
    state = models.CharField(max_length=8, choices=SloState.choices, default=SloState.ACTIVE)
    version = models.PositiveIntegerField(default=1)
    review_due = models.BooleanField(default=False)
    review_reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "SLO"
        verbose_name_plural = "SLOs"
        ordering = ["service__service_id", "sli_type", "metric", "-version"]
        constraints = [
            choices_check("sli_type", SloSliType, "slo_sli_type_valid"),
            choices_check("origin", SloOrigin, "slo_origin_valid"),
            choices_check("state", SloState, "slo_state_valid"),
            models.CheckConstraint(condition=Q(target__gt=0.0) & Q(target__lte=1.0), name="slo_target_range"),
            models.CheckConstraint(condition=Q(window_days__gt=0), name="slo_window_positive"),
            models.CheckConstraint(condition=Q(version__gte=1), name="slo_version_positive"),
            models.CheckConstraint(
                condition=(Q(sli_type="availability") & Q(threshold_ms__isnull=True))
                | (Q(sli_type="latency") & Q(threshold_ms__isnull=False) & Q(threshold_ms__gt=0)),
                name="slo_threshold_matches_sli",
            ),
            models.CheckConstraint(
                condition=(Q(state="active") & Q(retired_at__isnull=True))
                | (Q(state="retired") & Q(retired_at__isnull=False)),
                name="slo_retired_at_matches_state",
            ),
            # The heart of the lifecycle: one SLO of record per service and metric.
            models.UniqueConstraint(
                fields=["service", "sli_type", "metric"], condition=Q(state="active"), name="slo_one_active"
            ),
            models.UniqueConstraint(fields=["service", "sli_type", "metric", "version"], name="slo_version_unique"),
        ]
        indexes = [
            # The fleet list and the scoring run walk the active SLOs.
            models.Index(fields=["state", "service"], name="slo_state_service_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.service.service_id} {self.metric} v{self.version} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state == SloState.ACTIVE


class AppendOnlyError(Exception):
    """Raised when code tries to change or remove an audit-trail row."""


class SloChangeQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("SLO changes are append-only: they are never updated")

    update.alters_data = True

    def delete(self):
        raise AppendOnlyError("SLO changes are append-only: they are never deleted")

    delete.alters_data = True


class SloChange(models.Model):
    """One decision on a service's SLOs, never changed afterwards."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="slo_changes")
    slo = models.ForeignKey(
        ServiceLevelObjective, on_delete=models.CASCADE, null=True, blank=True, related_name="changes"
    )
    action = models.CharField(max_length=16, choices=SloAction.choices)
    actor = models.CharField(max_length=150)
    rationale = models.TextField(blank=True, default="")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    recommendation = models.ForeignKey(
        SloRecommendation, on_delete=models.RESTRICT, null=True, blank=True, related_name="slo_changes"
    )
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = SloChangeQuerySet.as_manager()

    class Meta:
        verbose_name = "SLO change"
        ordering = ["-at", "-id"]
        constraints = [
            choices_check("action", SloAction, "slo_change_action_valid"),
            models.CheckConstraint(
                condition=Q(action="reject") | Q(slo__isnull=False), name="slo_change_names_slo"
            ),
        ]
        indexes = [models.Index(fields=["service", "-at"], name="slo_change_service_at_idx")]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError("SLO changes are append-only: they are never updated")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("SLO changes are append-only: they are never deleted")


class SloStatus(models.Model):
    """The latest score of one SLO (section 13), replaced by each scoring run."""

    slo = models.OneToOneField(ServiceLevelObjective, on_delete=models.CASCADE, primary_key=True, related_name="status")
    computed_at = models.DateTimeField()
    window_start = models.DateTimeField(null=True, blank=True)
    window_availability = models.FloatField(null=True, blank=True)
    total_events = models.FloatField(null=True, blank=True)
    budget_total = models.FloatField(null=True, blank=True)
    budget_consumed = models.FloatField(null=True, blank=True)
    budget_remaining = models.FloatField(null=True, blank=True)
    budget_total_minutes = models.FloatField(null=True, blank=True)
    budget_remaining_minutes = models.FloatField(null=True, blank=True)
    burn_rates = models.JSONField(default=dict, blank=True)
    firing = models.CharField(max_length=8, choices=SloFiring.choices, null=True, blank=True)
    firing_conditions = models.JSONField(default=list, blank=True)
    exhaustion_at = models.DateTimeField(null=True, blank=True)
    health = models.CharField(max_length=16, choices=SloHealth.choices, default=SloHealth.UNKNOWN)
    burn_down = models.JSONField(default=list, blank=True)
    stale = models.BooleanField(default=False)
    error = models.TextField(blank=True, default="")

    class Meta:
        verbose_name = "SLO status"
        verbose_name_plural = "SLO statuses"
        constraints = [
            choices_check("health", SloHealth, "slo_status_health_valid"),
            models.CheckConstraint(
                condition=Q(firing__isnull=True) | Q(firing__in=SloFiring.values), name="slo_status_firing_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["health"], name="slo_status_health_idx"),
            models.Index(fields=["budget_remaining"], name="slo_status_budget_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.slo_id} {self.health} at {self.computed_at:%Y-%m-%d %H:%M}"
