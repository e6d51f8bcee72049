from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from slo_engine import health, metrics_views

api_v1 = [
    path("health", health.live, name="api-health"),
    path("health/ready", health.ready, name="api-health-ready"),
    path("", include("web.api.urls")),
    path("", include("telemetry.api.urls")),
    path("", include("recommendations.api.urls")),
    path("", include("slos.api.urls")),
    path("", include("slos.api.whatif_urls")),
    path("", include("graph.api.alert_urls")),
    path("", include("graph.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("api/v1/", include(api_v1)),
    path(
        "api/schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[AllowAny]),
        name="schema",
    ),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", authentication_classes=[], permission_classes=[AllowAny]),
        name="swagger-ui",
    ),
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="schema", authentication_classes=[], permission_classes=[AllowAny]),
        name="redoc",
    ),
    path("metrics", metrics_views.metrics, name="prometheus-django-metrics"),
    path("", include("web.urls")),
]

handler400 = "slo_engine.api.errors.handler400"
handler404 = "slo_engine.api.errors.handler404"
handler500 = "slo_engine.api.errors.handler500"
