"""Pages: the service map and service pages (filled in by the pages issue)."""

urlpatterns = []
