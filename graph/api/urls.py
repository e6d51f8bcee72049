"""Routes of the graph API. Every path answers with and without a trailing
slash, without a redirect."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from graph.api.views import DependencyViewSet, GraphView, ServiceViewSet


class OptionalSlashRouter(SimpleRouter):
    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("services", ServiceViewSet, basename="service")
router.register("dependencies", DependencyViewSet, basename="dependency")

urlpatterns = [
    re_path(r"^graph/?$", GraphView.as_view(), name="graph"),
    *router.urls,
]
