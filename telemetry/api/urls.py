"""Routes of the telemetry API; every path answers with and without a trailing slash."""

from django.urls import re_path

from telemetry.api.views import SliAggregateListView

urlpatterns = [
    re_path(
        r"^services/(?P<service_id>[-a-zA-Z0-9_]+)/sli-aggregates/?$",
        SliAggregateListView.as_view(),
        name="service-sli-aggregates",
    ),
]
