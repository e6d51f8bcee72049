"""Routes of the circular-dependency alert API (DESIGN.md section 5)."""

urlpatterns = []
