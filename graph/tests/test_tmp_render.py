import re
import pytest
from django.contrib.auth import get_user_model
from graph.services.cycles import cycle_alerts_sync
from graph.tests.test_admin import edge
from graph.models import CircularDependencyAlert

@pytest.mark.django_db
def test_dump(client):
    client.force_login(get_user_model().objects.create_superuser("ops", "o@x", None))
    edge("checkout", "payment"); edge("payment", "fraud"); edge("fraud", "checkout", discovery_source="otel_service_graph", confidence_score=0.6)
    cycle_alerts_sync()
    a = CircularDependencyAlert.objects.get()
    html = client.get(f"/admin/graph/circulardependencyalert/{a.pk}/change/").content.decode()
    i = html.index('cycle-edges'); print(html[i-200:i+1800])
    html = client.get("/admin/graph/circulardependencyalert/").content.decode()
    i = html.index('result_list'); print(html[i:i+2500])
    html = client.get(f"/admin/graph/circulardependencyalert/{a.pk}/resolve/").content.decode()
    i = html.index('id="content"'); print(html[i:i+2500])
