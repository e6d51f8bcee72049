"""Catalog and dependency graph (DESIGN.md section 4).

Every enumeration and range is enforced by a CHECK constraint, so a bad row is
rejected by the database itself, whatever code path wrote it.
"""

import uuid

from django.db import models
from django.db.models import Q


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


def choices_check(field: str, choices: type[models.TextChoices], name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(**{f"{field}__in": choices.values}), name=name)


class ServiceCriticality(models.TextChoices):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class CommunicationMode(models.TextChoices):
    SYNC = "sync"
    ASYNC = "async"


class DependencyCriticality(models.TextChoices):
    HARD = "hard"
    SOFT = "soft"
    DEGRADED = "degraded"


class DiscoverySource(models.TextChoices):
    MANUAL = "manual"
    OTEL_SERVICE_GRAPH = "otel_service_graph"
    KUBERNETES = "kubernetes"
    SERVICE_MESH = "service_mesh"
    BACKSTAGE = "backstage"


# Highest priority first: the effective edge takes its attributes from the
# first source in this order that has a non-stale record for the pair.
DISCOVERY_SOURCE_PRIORITY = (
    DiscoverySource.MANUAL,
    DiscoverySource.SERVICE_MESH,
    DiscoverySource.KUBERNETES,
    DiscoverySource.BACKSTAGE,
    DiscoverySource.OTEL_SERVICE_GRAPH,
)

# Words that cannot be a service_id because they collide with API paths.
RESERVED_SERVICE_IDS = frozenset({"dependencies"})


class ServiceQuerySet(models.QuerySet):
    def active(self):
        return self.filter(retired_at__isnull=True)


class Service(TimestampedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    service_id = models.SlugField(max_length=128, unique=True)
    display_name = models.CharField(max_length=200, blank=True, default="")
    team = models.CharField(max_length=128, null=True, blank=True, db_index=True)
    criticality = models.CharField(
        max_length=16, choices=ServiceCriticality.choices, default=ServiceCriticality.MEDIUM
    )
    metadata = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
    discovered = models.BooleanField(default=False)
    retired_at = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=150, blank=True, default="")
    updated_by = models.CharField(max_length=150, blank=True, default="")

    objects = ServiceQuerySet.as_manager()

    class Meta:
        ordering = ["service_id"]
        constraints = [
            choices_check("criticality", ServiceCriticality, "service_criticality_valid"),
            models.CheckConstraint(
                condition=~Q(service_id__in=sorted(RESERVED_SERVICE_IDS)), name="service_id_not_reserved"
            ),
        ]

    def __str__(self) -> str:
        return self.service_id

    @property
    def is_retired(self) -> bool:
        return self.retired_at is not None


class ServiceDependency(TimestampedModel):
    """One edge record per (source, target, discovery_source)."""

    source = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="outgoing_dependencies")
    target = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="incoming_dependencies")
    communication_mode = models.CharField(
        max_length=8, choices=CommunicationMode.choices, default=CommunicationMode.SYNC
    )
    criticality = models.CharField(
        max_length=16, choices=DependencyCriticality.choices, default=DependencyCriticality.HARD
    )
    protocol = models.CharField(max_length=64, blank=True, default="")
    timeout_ms = models.PositiveIntegerField(null=True, blank=True)
    retry_config = models.JSONField(default=dict, blank=True)
    discovery_source = models.CharField(
        max_length=32, choices=DiscoverySource.choices, default=DiscoverySource.MANUAL
    )
    confidence_score = models.FloatField(default=1.0)
    last_observed_at = models.DateTimeField()
    is_stale = models.BooleanField(default=False)
    # Edge health from the service graph or the mesh (DESIGN.md section 8):
    # requests per second and the failed share, over the discovery lookback.
    request_rate = models.FloatField(null=True, blank=True)
    failure_ratio = models.FloatField(null=True, blank=True)
    health_observed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "service dependencies"
        constraints = [
            models.UniqueConstraint(
                fields=["source", "target", "discovery_source"], name="dependency_unique_per_source"
            ),
            models.CheckConstraint(condition=~Q(source=models.F("target")), name="dependency_no_self_loop"),
            models.CheckConstraint(
                condition=Q(confidence_score__gte=0.0) & Q(confidence_score__lte=1.0),
                name="dependency_confidence_range",
            ),
            models.CheckConstraint(
                condition=Q(timeout_ms__isnull=True) | Q(timeout_ms__gt=0), name="dependency_timeout_positive"
            ),
            models.CheckConstraint(
                condition=Q(request_rate__isnull=True) | Q(request_rate__gte=0), name="dependency_request_rate_positive"
            ),
            models.CheckConstraint(
                condition=Q(failure_ratio__isnull=True) | (Q(failure_ratio__gte=0.0) & Q(failure_ratio__lte=1.0)),
                name="dependency_failure_ratio_range",
            ),
            choices_check("communication_mode", CommunicationMode, "dependency_mode_valid"),
            choices_check("criticality", DependencyCriticality, "dependency_criticality_valid"),
            choices_check("discovery_source", DiscoverySource, "dependency_discovery_source_valid"),
        ]
        indexes = [
            # The traversal CTE walks non-stale edges in both directions:
            # downstream joins on source, upstream joins on target.
            models.Index(
                fields=["source", "target"], condition=Q(is_stale=False), name="dependency_fwd_live_idx"
            ),
            models.Index(
                fields=["target", "source"], condition=Q(is_stale=False), name="dependency_rev_live_idx"
            ),
            # No index on last_observed_at, on purpose: every re-observation
            # writes it, and leaving it unindexed lets PostgreSQL update those
            # rows in place (HOT). The hourly staleness sweep scans instead.
        ]

    def __str__(self) -> str:
        return f"{self.source_id} -> {self.target_id} ({self.discovery_source})"


class GraphVersion(models.Model):
    """A single row whose counter every graph write bumps; caches key on it."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="graph_version_singleton")]

    def __str__(self) -> str:
        return f"graph v{self.version}"


class AlertStatus(models.TextChoices):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class CircularDependencyAlert(TimestampedModel):
    """One detected cycle, in canonical form: rotated to start at the smallest
    service_id, the first node not repeated at the end."""

    cycle_path = models.JSONField(unique=True)
    status = models.CharField(max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    scc_size = models.PositiveIntegerField(default=0)
    acknowledged_by = models.CharField(max_length=150, blank=True, default="")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledgement_notes = models.TextField(blank=True, default="")
    resolved_by = models.CharField(max_length=150, blank=True, default="")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_notes = models.TextField(blank=True, default="")
    detected_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    reopened_at = models.DateTimeField(null=True, blank=True)
    reopen_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-last_seen_at", "id"]
        constraints = [choices_check("status", AlertStatus, "alert_status_valid")]
        indexes = [models.Index(fields=["status", "-last_seen_at"], name="alert_status_seen_idx")]

    def __str__(self) -> str:
        return self.cycle_display

    @property
    def cycle_display(self) -> str:
        path = list(self.cycle_path or [])
        return " → ".join(path + path[:1])
