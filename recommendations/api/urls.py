"""Routes of the recommendations API; every path answers with and without a trailing slash."""

from django.urls import re_path

from recommendations.api.views import (
    RecommendationCalibrationView,
    ServiceRecommendationsExportView,
    ServiceRecommendationsView,
)

urlpatterns = [
    re_path(r"^recommendations/calibration/?$", RecommendationCalibrationView.as_view(),
            name="recommendations-calibration"),
    re_path(r"^services/(?P<service_id>[-a-zA-Z0-9_]+)/slo-recommendations/?$",
            ServiceRecommendationsView.as_view(), name="service-slo-recommendations"),
    re_path(r"^services/(?P<service_id>[-a-zA-Z0-9_]+)/slo-recommendations/export/?$",
            ServiceRecommendationsExportView.as_view(), name="service-slo-recommendations-export"),
]
