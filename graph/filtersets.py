"""FilterSets of the catalog and edge records, shared by the API and pages."""

import django_filters
from django.db import connection
from django.db.models import Q

from graph.models import (
    CommunicationMode,
    DependencyCriticality,
    DiscoverySource,
    Service,
    ServiceCriticality,
    ServiceDependency,
)


class ServiceFilterSet(django_filters.FilterSet):
    team = django_filters.CharFilter()
    criticality = django_filters.ChoiceFilter(choices=ServiceCriticality.choices)
    discovered = django_filters.BooleanFilter()
    tag = django_filters.CharFilter(method="filter_tag", label="Has this tag")
    search = django_filters.CharFilter(method="filter_search", label="Substring of service_id, name or team")
    include_retired = django_filters.BooleanFilter(method="filter_include_retired", label="Include retired")

    class Meta:
        model = Service
        fields = ("team", "criticality", "discovered")

    def filter_queryset(self, queryset):
        # Retired services are hidden unless asked for (the filter method
        # only runs when the parameter is given, so the default lives here).
        if not self.form.cleaned_data.get("include_retired"):
            queryset = queryset.filter(retired_at__isnull=True)
        return super().filter_queryset(queryset)

    def filter_include_retired(self, queryset, name, value):
        return queryset

    def filter_tag(self, queryset, name, value):
        if connection.features.supports_json_field_contains:
            return queryset.filter(tags__contains=[value])
        # SQLite has no JSON containment; the stored list is JSON text there,
        # and a tag appears in it as a quoted string.
        return queryset.filter(tags__icontains=f'"{value}"')

    def filter_search(self, queryset, name, value):
        return queryset.filter(
            Q(service_id__icontains=value) | Q(display_name__icontains=value) | Q(team__icontains=value)
        )


class DependencyFilterSet(django_filters.FilterSet):
    source = django_filters.CharFilter(field_name="source__service_id", label="Source service_id")
    target = django_filters.CharFilter(field_name="target__service_id", label="Target service_id")
    discovery_source = django_filters.ChoiceFilter(choices=DiscoverySource.choices)
    is_stale = django_filters.BooleanFilter()
    criticality = django_filters.ChoiceFilter(choices=DependencyCriticality.choices)
    communication_mode = django_filters.ChoiceFilter(choices=CommunicationMode.choices)

    class Meta:
        model = ServiceDependency
        fields = ("discovery_source", "is_stale", "criticality", "communication_mode")
