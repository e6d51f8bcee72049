"""Routes of the what-if API; every path answers with and without a trailing slash."""

from django.urls import re_path

from slos.api.whatif import ConstraintAnalysisView, ImpactAnalysisView

urlpatterns = [
    re_path(r"^services/(?P<service_id>[-a-zA-Z0-9_]+)/constraint-analysis/?$",
            ConstraintAnalysisView.as_view(), name="service-constraint-analysis"),
    re_path(r"^impact-analysis/?$", ImpactAnalysisView.as_view(), name="impact-analysis"),
]
