"""Routes of the pages: `/` the service map, `/services/<service_id>/` a service page."""

from django.urls import path

from slo_engine import pages

urlpatterns = [
    path("", pages.service_map, name="page-service-map"),
    path("services/<slug:service_id>/", pages.service_detail, name="page-service-detail"),
    path("services/<slug:service_id>/sli-history.json", pages.service_sli_history, name="page-service-sli-history"),
]
