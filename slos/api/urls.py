"""Routes of the SLOs-of-record API; every path answers with and without a trailing slash."""

from django.urls import re_path

from slos.api.views import (
    ServiceSloDetailView,
    ServiceSloHistoryView,
    ServiceSlosView,
    SloExportView,
    SloFleetViewSet,
)

SERVICE = r"services/(?P<service_id>[-a-zA-Z0-9_]+)"

urlpatterns = [
    re_path(rf"^{SERVICE}/slos/?$", ServiceSlosView.as_view(), name="service-slos"),
    re_path(rf"^{SERVICE}/slos/(?P<slo_id>[0-9]+)/?$", ServiceSloDetailView.as_view(), name="service-slo"),
    re_path(rf"^{SERVICE}/slo-history/?$", ServiceSloHistoryView.as_view(), name="service-slo-history"),
    re_path(r"^slos/export/?$", SloExportView.as_view(), name="slo-export"),
    re_path(r"^slos/?$", SloFleetViewSet.as_view({"get": "list"}), name="slo-list"),
]
