"""Routes of the circular-dependency alert API (DESIGN.md section 5)."""

from rest_framework.routers import SimpleRouter

from graph.api.alerts import CircularDependencyAlertViewSet

# Every path answers with and without a trailing slash, with no redirect.
# DRF's constructor turns any truthy `trailing_slash` into "/", so the
# optional slash is set on the instance.
router = SimpleRouter()
router.trailing_slash = "/?"
router.register("circular-dependencies", CircularDependencyAlertViewSet, basename="circular-dependency")

urlpatterns = router.urls
