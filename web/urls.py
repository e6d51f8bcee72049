"""Routes of the pages: `/` the service map, `/services/<service_id>/` a service
page, `/calibration/` the backtest of the recommendations, `/slos/` the SLOs of record."""

from django.templatetags.static import static
from django.urls import path
from django.views.generic import RedirectView

from web import slo_pages, views

urlpatterns = [
    # Browsers ask for /favicon.ico on every page, the admin's included.
    path("favicon.ico", RedirectView.as_view(url=static("pages/favicon.svg"), permanent=True)),
    path("", views.service_map, name="page-service-map"),
    path("slos/", slo_pages.slo_fleet, name="page-slos"),
    path("services/<slug:service_id>/", views.service_detail, name="page-service-detail"),
    path("calibration/", views.calibration, name="page-calibration"),
    path("services/<slug:service_id>/sli-history.json", views.service_sli_history, name="page-service-sli-history"),
]
