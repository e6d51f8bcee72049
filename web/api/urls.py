from django.urls import re_path

from web.api.stats import StatsView

urlpatterns = [
    re_path(r"^stats/?$", StatsView.as_view(), name="api-stats"),
]
