"""The fleet's SLO filters, shared by `GET /api/v1/slos/` and the /slos/ page."""

import django_filters
from django.db.models import F

from graph.models import ServiceCriticality
from slos.models import ServiceLevelObjective, SloHealth

# Ordering choices: SLOs never scored (no status) sort last either way.
ORDERINGS = {
    "budget_remaining": F("status__budget_remaining").asc(nulls_last=True),
    "-budget_remaining": F("status__budget_remaining").desc(nulls_last=True),
    "exhaustion_at": F("status__exhaustion_at").asc(nulls_last=True),
    "-exhaustion_at": F("status__exhaustion_at").desc(nulls_last=True),
}


class SloFilterSet(django_filters.FilterSet):
    health = django_filters.ChoiceFilter(field_name="status__health", choices=SloHealth.choices,
                                         method="filter_health", label="Health band")
    team = django_filters.CharFilter(field_name="service__team", label="Team of the service")
    criticality = django_filters.ChoiceFilter(field_name="service__criticality", choices=ServiceCriticality.choices,
                                              label="Criticality of the service")
    # A boolean, as the schema says; on the API anything but true/false is a
    # 422 (slo_engine.api.filters.StrictFilterBackend).
    review_due = django_filters.BooleanFilter(label="Due for review (true or false)")
    ordering = django_filters.ChoiceFilter(choices=[(key, key) for key in ORDERINGS], method="filter_ordering",
                                           label="Order by budget_remaining or exhaustion_at (prefix - for desc)")

    class Meta:
        model = ServiceLevelObjective
        fields = ("team", "criticality", "review_due")

    def filter_health(self, queryset, name, value):
        # Not scored yet is unknown too.
        if value == SloHealth.UNKNOWN:
            return queryset.filter(status__health=value) | queryset.filter(status__isnull=True)
        return queryset.filter(status__health=value)

    def filter_ordering(self, queryset, name, value):
        return queryset.order_by(ORDERINGS[value], "service__service_id", "metric")
