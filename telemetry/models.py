"""SLI aggregates (DESIGN.md section 4): the latest value of each SLI type per
service and time window, recomputed hourly from the telemetry source."""

from django.db import models
from django.db.models import Q

from graph.models import Service, TimestampedModel, choices_check


class SliType(models.TextChoices):
    AVAILABILITY = "availability"
    ERROR_RATE = "error_rate"
    LATENCY_P50 = "latency_p50"
    LATENCY_P95 = "latency_p95"
    LATENCY_P99 = "latency_p99"
    LATENCY_P999 = "latency_p999"
    THROUGHPUT = "throughput"


class TimeWindow(models.TextChoices):
    HOUR = "1h"
    DAY = "1d"
    WEEK = "7d"
    FOUR_WEEKS = "28d"
    NINETY_DAYS = "90d"


class SliAggregate(TimestampedModel):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="sli_aggregates")
    sli_type = models.CharField(max_length=16, choices=SliType.choices)
    time_window = models.CharField(max_length=4, choices=TimeWindow.choices)
    value = models.DecimalField(max_digits=20, decimal_places=9)
    sample_count = models.BigIntegerField(default=0)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["service_id", "sli_type", "time_window", "-computed_at"]
        constraints = [
            choices_check("sli_type", SliType, "sli_aggregate_type_valid"),
            choices_check("time_window", TimeWindow, "sli_aggregate_window_valid"),
            models.CheckConstraint(condition=Q(sample_count__gte=0), name="sli_aggregate_samples_nonneg"),
        ]
        indexes = [
            models.Index(
                "service",
                "sli_type",
                "time_window",
                models.F("computed_at").desc(),
                name="sli_aggregate_latest_idx",
            ),
            # The retention sweep deletes by age across all services.
            models.Index(fields=["computed_at"], name="sli_aggregate_computed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.sli_type}/{self.time_window}={self.value}"
